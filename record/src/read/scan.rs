//! One pass over a recording, record by record: every chunk decompressed
//! and checked (its CRC, every message decodes and fits its ring), and a
//! table of blocks kept with their frame, sequence and time ranges.
//!
//! What the pass keeps is bounded by the file: per chunk one block, per
//! unchunked frame the frame, and events only up to [`event_budget`] of
//! the file's size (a chunk of compressed JSON could otherwise decode to
//! far more than the file holds).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use mcap::records::{ChunkHeader, Record};

use crate::codec;
use crate::events::{Event, MissedRange, RingSample, SessionEnd};
use crate::mcap_io;
use crate::writer::{METADATA_NAME, PROFILE};

use super::catalog::{event_bytes, Bad, Catalog, Found};
use super::error::Damage;
use super::parts::{widen, Block, ChannelInfo, RecordedFrame, Source};

/// The MCAP magic, at both ends of a file.
pub(crate) const MAGIC: &[u8] = mcap::MAGIC;
/// Opcode plus length before every record body.
const RECORD_PREFIX: u64 = 9;
/// Events (missed ranges, samples, ends) a file of any size may hold in
/// memory: hours of once-a-second samples of an idle ring.
pub const EVENT_FLOOR: u64 = 4 << 20;
/// Beyond [`EVENT_FLOOR`], events may hold this many times the file's size.
pub const EVENT_RATIO: u64 = 16;

/// The memory a file of `len` bytes may keep in events.
pub fn event_budget(len: u64) -> u64 {
    EVENT_FLOOR.saturating_add(len.saturating_mul(EVENT_RATIO))
}

/// Why a scan refuses the file outright.
#[derive(Debug)]
pub(crate) enum Refused {
    /// Not a Forge recording.
    Foreign(String),
    /// A claim that cannot be true, at a byte offset.
    Corrupt(u64, String),
}

/// Everything a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub(crate) library: String,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) catalog: Catalog,
    pub(crate) channels: Vec<ChannelInfo>,
    pub(crate) blocks: Vec<Block>,
    pub(crate) frames: u64,
    pub(crate) missed: Vec<MissedRange>,
    pub(crate) samples: Vec<RingSample>,
    pub(crate) ends: Vec<SessionEnd>,
    pub(crate) damage: Vec<Damage>,
    pub(crate) complete: bool,
    pub(crate) chunks: u64,
    /// Memory held by events.
    event_bytes: u64,
}

/// Scans `file` (which starts with the MCAP magic).
pub(crate) fn scan(file: &[u8]) -> Result<Scanned, Refused> {
    let mut s = Scanner {
        out: Scanned::default(),
        len: file.len() as u64,
        budget: event_budget(file.len() as u64),
    };
    s.run(file)?;
    Ok(s.out)
}

struct Scanner {
    out: Scanned,
    len: u64,
    budget: u64,
}

/// Decompresses and checks one chunk against the catalog, copying the
/// catalog only if the chunk declares schemas or channels; nothing is kept
/// unless all of it reads.
fn read_chunk<'c>(
    header: &ChunkHeader,
    compressed: &[u8],
    catalog: &'c Catalog,
) -> Result<(Found, Cow<'c, Catalog>), Bad> {
    let mut catalog = Cow::Borrowed(catalog);
    let mut found = Found::default();
    mcap_io::for_each_in_chunk(header, compressed, |r| -> Result<(), Bad> {
        match r {
            Record::Schema { header, .. } => {
                catalog
                    .to_mut()
                    .schemas
                    .insert(header.id, (header.name, header.encoding));
            }
            Record::Channel(c) => catalog.to_mut().add_channel(c)?,
            Record::Message { header, data } => {
                found.message(&catalog, header.channel_id, header.log_time, &data)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((found, catalog))
}

impl Scanner {
    /// Records a damage that stops the scan at `offset`.
    fn stop(&mut self, offset: u64, reason: String) {
        self.out.damage.push(Damage {
            offset,
            skipped: self.len - offset,
            fatal: true,
            reason,
        });
    }

    /// Applies what a whole chunk (or a loose event) held; returns a block
    /// (its source to be filled in) if it held frames.
    fn absorb(
        &mut self,
        found: Found,
        catalog: &mut Catalog,
        counts: &mut BTreeMap<u16, u64>,
        at: u64,
    ) -> Result<Option<Block>, Refused> {
        for (id, n) in found.counts {
            *counts.entry(id).or_default() += n;
        }
        for (s, n) in found.per_session {
            catalog.sessions[s].frames += n;
        }
        for e in found.events {
            self.out.event_bytes += event_bytes(&e);
            match e {
                Event::Missed(m) => self.out.missed.push(m),
                Event::Sample(mut r) => {
                    // An idle ring's histogram stays as it was: held once.
                    if let Some(last) = self.out.samples.last() {
                        if r.latency_buckets.share(&last.latency_buckets) {
                            self.out.event_bytes -= r.latency_buckets.heap_bytes() as u64;
                        }
                    }
                    self.out.samples.push(r)
                }
                Event::End(e) => self.out.ends.push(e),
            }
        }
        if self.out.event_bytes > self.budget {
            return Err(Refused::Corrupt(
                at,
                format!(
                    "its events take {} bytes of memory, more than the {} a file of {} bytes may \
                     ({} MiB and {EVENT_RATIO} times its size)",
                    self.out.event_bytes,
                    self.budget,
                    self.len,
                    EVENT_FLOOR >> 20
                ),
            ));
        }
        let Some(times) = found.times.filter(|_| found.frames > 0) else {
            return Ok(None);
        };
        let block = Block {
            source: Source::Loose(Arc::from(Vec::new())),
            first: self.out.frames,
            count: found.frames,
            sequences: found.sequences,
            times,
        };
        self.out.frames += found.frames;
        Ok(Some(block))
    }

    /// Turns unchunked frames read so far into a block.
    fn flush_loose(&mut self, loose: &mut Vec<RecordedFrame>, catalog: &mut Catalog) {
        if loose.is_empty() {
            return;
        }
        let frames: Arc<[RecordedFrame]> = std::mem::take(loose).into();
        let mut sequences = None;
        let mut times = None;
        for f in frames.iter() {
            catalog.sessions[f.session].frames += 1;
            if let Some(s) = f.sequence() {
                widen(&mut sequences, s);
            }
            widen(&mut times, f.log_time_ns);
        }
        let count = frames.len() as u64;
        self.out.blocks.push(Block {
            source: Source::Loose(frames),
            first: self.out.frames,
            count,
            sequences,
            times: times.unwrap_or_default(),
        });
        self.out.frames += count;
    }

    fn finish_channels(&mut self, catalog: &Catalog, counts: &BTreeMap<u16, u64>) {
        let mut channels: Vec<ChannelInfo> = catalog
            .channels
            .values()
            .map(|c| ChannelInfo {
                id: c.id,
                topic: c.topic.clone(),
                message_encoding: c.message_encoding.clone(),
                schema: catalog
                    .schemas
                    .get(&c.schema_id)
                    .map_or_else(String::new, |(n, _)| n.clone()),
                messages: counts.get(&c.id).copied().unwrap_or(0),
            })
            .collect();
        channels.sort_by_key(|c| c.id);
        self.out.channels = channels;
    }

    fn run(&mut self, file: &[u8]) -> Result<(), Refused> {
        let len = self.len;
        let mut at = MAGIC.len() as u64;
        let mut catalog = Catalog::default();
        let mut counts: BTreeMap<u16, u64> = BTreeMap::new();
        let mut seen_header = false;
        let mut in_summary = false;
        let mut statistics = None;
        let mut loose: Vec<RecordedFrame> = Vec::new();
        let first_header = |opcode: u8| {
            Refused::Foreign(format!(
                "expected a Header record first, found opcode {opcode:#04x}"
            ))
        };
        loop {
            if at == len {
                let reason = if in_summary {
                    "the summary section ends without a footer and the closing magic"
                } else {
                    "the file ends without its summary: the recording was not finished (killed, or the disk filled)"
                };
                self.stop(at, reason.into());
                break;
            }
            let left = len - at;
            if left < RECORD_PREFIX {
                self.stop(
                    at,
                    format!("a record header needs {RECORD_PREFIX} bytes, only {left} remain"),
                );
                break;
            }
            let start = at as usize;
            let opcode = file[start];
            let mut l = [0u8; 8];
            l.copy_from_slice(&file[start + 1..start + 9]);
            let body_len = u64::from_le_bytes(l);
            if body_len > left - RECORD_PREFIX {
                self.stop(
                    at,
                    format!(
                        "record with opcode {opcode:#04x} claims {body_len} bytes, only {} remain",
                        left - RECORD_PREFIX
                    ),
                );
                break;
            }
            let body = start + 9..start + 9 + body_len as usize;
            let next = at + RECORD_PREFIX + body_len;
            let record = match mcap_io::parse(opcode, &file[body]) {
                Ok(Some(r)) => r,
                Ok(None) if seen_header => {
                    at = next;
                    continue;
                }
                Ok(None) => return Err(first_header(opcode)),
                Err(e) => {
                    self.stop(
                        at,
                        format!("record with opcode {opcode:#04x} does not parse: {e}"),
                    );
                    break;
                }
            };
            if !seen_header && !matches!(record, Record::Header(_)) {
                return Err(first_header(opcode));
            }
            match record {
                Record::Header(h) => {
                    if seen_header {
                        self.stop(at, "a second Header record".into());
                        break;
                    }
                    seen_header = true;
                    if h.profile != PROFILE {
                        return Err(Refused::Foreign(format!(
                            "expected profile {PROFILE:?}, found {:?} (written by {:?})",
                            h.profile, h.library
                        )));
                    }
                    self.out.library = h.library;
                }
                Record::Footer(_) => {
                    let tail = &file[next as usize..];
                    if tail != MAGIC {
                        self.stop(
                            next,
                            format!(
                                "expected the closing magic after the footer, found {} bytes ({:02x?})",
                                tail.len(),
                                &tail[..tail.len().min(8)]
                            ),
                        );
                    } else if !in_summary {
                        self.stop(at, "a footer without the data-end record before it".into());
                    } else {
                        self.out.complete = true;
                    }
                    break;
                }
                Record::DataEnd(_) => in_summary = true,
                Record::Statistics(s) if in_summary => statistics = Some((at, s)),
                _ if in_summary => {}
                Record::Chunk { header, data } => {
                    let record = start..next as usize;
                    match read_chunk(&header, &data, &catalog) {
                        Ok((found, chunk_catalog)) => {
                            if let Cow::Owned(c) = chunk_catalog {
                                catalog = c;
                            }
                            self.flush_loose(&mut loose, &mut catalog);
                            self.out.chunks += 1;
                            if let Some(block) =
                                self.absorb(found, &mut catalog, &mut counts, at)?
                            {
                                self.out.blocks.push(Block {
                                    source: Source::Chunk { record, offset: at },
                                    ..block
                                });
                            }
                        }
                        Err(Bad::Corrupt(what)) => {
                            return Err(Refused::Corrupt(at, format!("in the chunk there, {what}")))
                        }
                        Err(Bad::Damaged(reason)) => self.out.damage.push(Damage {
                            offset: at,
                            skipped: RECORD_PREFIX + body_len,
                            fatal: false,
                            reason: format!("chunk at byte {at}: {reason}"),
                        }),
                    }
                }
                Record::Schema { header, .. } => {
                    catalog
                        .schemas
                        .insert(header.id, (header.name, header.encoding));
                }
                Record::Channel(c) => match catalog.add_channel(c) {
                    Ok(()) => {}
                    Err(Bad::Corrupt(what)) => return Err(Refused::Corrupt(at, what)),
                    Err(Bad::Damaged(what)) => {
                        self.stop(at, what);
                        break;
                    }
                },
                Record::Message { header, data } => {
                    let mut found = Found::default();
                    let frame =
                        match found.message(&catalog, header.channel_id, header.log_time, &data) {
                            Ok(frame) => frame,
                            Err(Bad::Corrupt(what)) => return Err(Refused::Corrupt(at, what)),
                            Err(Bad::Damaged(what)) => {
                                self.stop(at, what);
                                break;
                            }
                        };
                    match frame {
                        None => {
                            self.absorb(found, &mut catalog, &mut counts, at)?;
                        }
                        Some((session, _)) => {
                            // Checked above: decodes.
                            let rec = codec::decode(&data)
                                .map_err(|e| Refused::Corrupt(at, e.to_string()))?;
                            *counts.entry(header.channel_id).or_default() += 1;
                            loose.push(RecordedFrame {
                                index: self.out.frames + loose.len() as u64,
                                session,
                                position: rec.position,
                                slot_flags: rec.slot_flags,
                                raw: rec.raw,
                                log_time_ns: header.log_time,
                                payload: rec.payload,
                            });
                        }
                    }
                }
                Record::Metadata(m) if m.name == METADATA_NAME => self.out.metadata = m.metadata,
                _ => {}
            }
            at = next;
        }
        self.flush_loose(&mut loose, &mut catalog);
        self.finish_channels(&catalog, &counts);
        if catalog.sessions.is_empty()
            && !catalog.channels.is_empty()
            && !catalog
                .schemas
                .values()
                .any(|(n, _)| n == codec::SCHEMA_NAME)
        {
            return Err(Refused::Foreign(format!(
                "no channel uses the {:?} schema",
                codec::SCHEMA_NAME
            )));
        }
        if let Some((offset, stats)) = statistics {
            if self.out.damage.is_empty() {
                for c in &self.out.channels {
                    let said = stats
                        .channel_message_counts
                        .get(&c.id)
                        .copied()
                        .unwrap_or(0);
                    if said != c.messages {
                        return Err(Refused::Corrupt(
                            offset,
                            format!(
                                "the summary counts {said} messages on channel {} ({}), the data section holds {}",
                                c.id, c.topic, c.messages
                            ),
                        ));
                    }
                }
            }
        }
        self.out.catalog = catalog;
        Ok(())
    }
}
