//! Reads recordings back: the offline view forge-top and forge-replay use.
//!
//! [`Recording::open`] scans the whole file once, record by record: every
//! chunk is decompressed and checked (its CRC, every message decodes), and
//! a table of chunks with their frame, sequence and time ranges is kept;
//! frames are decoded again, one chunk at a time, when asked for. The file
//! is held in memory, compressed.
//!
//! A file cut short (SIGKILL, a full disk) or damaged is refused by
//! [`Recording::open`] with how far it could be read;
//! [`Recording::open_recovering`] returns what is readable instead, like
//! `mcap recover`: every complete chunk before the cut, skipping a chunk
//! whose CRC or compression is broken but whose length is intact.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use forge_frame::{self as frame, Frame, FrameError, FrameHeader};
use mcap::records::{ChunkHeader, Record};

use crate::args::From;
use crate::codec::{self, CodecError};
use crate::events::{self, Event, MissedRange, RingSample, SessionEnd};
use crate::identity::SessionIdentity;
use crate::mcap_io;
use crate::writer::{METADATA_NAME, PROFILE};

/// The MCAP magic, at both ends of a file.
const MAGIC: &[u8] = mcap::MAGIC;
/// Opcode plus length before every record body.
const RECORD_PREFIX: u64 = 9;
/// The largest chunk this reader decompresses.
pub const MAX_CHUNK_BYTES: u64 = 256 << 20;

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not an MCAP file at all.
    #[error(
        "{path} is not an MCAP file: expected the magic 89 4d 43 41 50 30 0d 0a, found {found}"
    )]
    NotMcap {
        /// The file.
        path: PathBuf,
        /// What it starts with.
        found: String,
    },
    /// An MCAP file, but not a Forge recording.
    #[error("{path} is an MCAP file but not a Forge recording: {why}")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was expected and found.
        why: String,
    },
    /// The file stops short or is damaged; `readable_bytes` of it could be
    /// read (see [`Recording::open_recovering`]).
    #[error("{path} is incomplete: {reason}; readable up to byte {readable_bytes} of {file_bytes} ({chunks} complete chunks, {frames} frames){hint}",
        hint = if *.frames > 0 { "; open it with recovery to read those" } else { "" })]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming what was expected and found.
        reason: String,
        /// Bytes before the first damage.
        readable_bytes: u64,
        /// The file's size.
        file_bytes: u64,
        /// Complete chunks before it.
        chunks: u64,
        /// Frames in them.
        frames: u64,
    },
    /// A record cannot be true (a summary that disagrees with the data).
    #[error("{path} is corrupt at byte {offset}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// No frame with that index.
    #[error("frame {index} does not exist: the recording holds {len} frames")]
    OutOfRange {
        /// Asked for.
        index: u64,
        /// Frames recorded.
        len: u64,
    },
}

/// The message of an MCAP error with its causes (the mcap crate's I/O
/// errors keep the reason in their source).
pub(crate) fn mcap_message(e: &mcap::McapError) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

/// Something wrong with a file that [`Recording::open_recovering`] read
/// around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damaged record.
    pub offset: u64,
    /// Bytes skipped from there (to the end of the file when it stopped
    /// the scan).
    pub skipped: u64,
    /// Reading stopped here.
    pub fatal: bool,
    /// What was expected and found.
    pub reason: String,
}

/// One recorded session: a channel of frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The MCAP channel id.
    pub channel_id: u16,
    /// The channel's topic.
    pub topic: String,
    /// The segment's identity as recorded.
    pub identity: SessionIdentity,
    /// Frames of this session in the file.
    pub frames: u64,
}

/// A channel of the file, Forge's or not, and how many messages it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Channel id.
    pub id: u16,
    /// Topic.
    pub topic: String,
    /// Message encoding.
    pub message_encoding: String,
    /// Schema name ("" without one).
    pub schema: String,
    /// Messages found in the readable part.
    pub messages: u64,
}

/// One frame read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFrame {
    /// Its index in the recording, from 0.
    pub index: u64,
    /// Index into [`Recording::sessions`].
    pub session: usize,
    /// The ring position it was published at.
    pub position: u64,
    /// The slot-word flags it was committed with.
    pub slot_flags: u16,
    /// The payload was not a telemetry frame.
    pub raw: bool,
    /// Its time, wall clock ns (MCAP `log_time`).
    pub log_time_ns: u64,
    /// The slot's payload, exactly as recorded.
    pub payload: Vec<u8>,
}

impl RecordedFrame {
    /// The payload as a telemetry frame (checksum verified).
    pub fn frame(&self) -> Result<Frame<'_>, FrameError> {
        frame::decode(&self.payload)
    }

    /// The telemetry header, if the payload has one.
    pub fn header(&self) -> Option<FrameHeader> {
        (!self.raw)
            .then(|| frame::decode_header(&self.payload).ok())
            .flatten()
    }

    /// The telemetry sequence number, if the payload has one.
    pub fn sequence(&self) -> Option<u64> {
        self.header().map(|h| h.sequence)
    }
}

/// Where a block's frames come from.
#[derive(Debug)]
enum Source {
    /// A chunk: the byte range of its whole record in the file.
    Chunk { record: Range<usize>, offset: u64 },
    /// Messages outside any chunk, decoded at scan time.
    Loose(Arc<[RecordedFrame]>),
}

/// A run of frames: one chunk's, or consecutive unchunked ones.
#[derive(Debug)]
struct Block {
    source: Source,
    first: u64,
    count: u64,
    /// Smallest and largest telemetry sequence (non-RAW frames).
    sequences: Option<(u64, u64)>,
    /// Earliest and latest log time.
    times: (u64, u64),
}

/// A Forge recording, opened.
pub struct Recording {
    path: PathBuf,
    bytes: Vec<u8>,
    profile: String,
    library: String,
    metadata: BTreeMap<String, String>,
    catalog: Catalog,
    channels: Vec<ChannelInfo>,
    blocks: Vec<Block>,
    frames: u64,
    missed: Vec<MissedRange>,
    samples: Vec<RingSample>,
    ends: Vec<SessionEnd>,
    damage: Vec<Damage>,
    complete: bool,
    chunks: u64,
    file_len: u64,
    cache: Mutex<Option<(usize, Arc<[RecordedFrame]>)>>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("path", &self.path)
            .field("file_bytes", &self.bytes.len())
            .field("frames", &self.frames)
            .field("chunks", &self.chunks)
            .field("sessions", &self.catalog.sessions.len())
            .field("complete", &self.complete)
            .field("damage", &self.damage)
            .finish()
    }
}

/// Channel and schema records seen so far, and which channels carry
/// frames (the sessions, in the order they appear).
#[derive(Debug, Default, Clone)]
struct Catalog {
    schemas: HashMap<u16, (String, String)>,
    channels: HashMap<u16, mcap::records::Channel>,
    sessions: Vec<Session>,
    session_of: HashMap<u16, usize>,
}

/// Decompresses and checks one chunk against a copy of the catalog;
/// nothing is kept unless all of it reads.
fn read_chunk(
    header: &ChunkHeader,
    compressed: &[u8],
    catalog: &Catalog,
) -> Result<(Found, Catalog), String> {
    let mut catalog = catalog.clone();
    let mut found = Found::default();
    mcap_io::for_each_in_chunk(header, compressed, MAX_CHUNK_BYTES, |r| {
        match r {
            Record::Schema { header, .. } => {
                catalog
                    .schemas
                    .insert(header.id, (header.name, header.encoding));
            }
            Record::Channel(c) => catalog.add_channel(c)?,
            Record::Message { header, data } => {
                found.message(&catalog, header.channel_id, header.log_time, &data)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((found, catalog))
}

/// A message sorted by what it is.
enum Item {
    Frame(codec::RecordHead),
    Event(Event),
    Other,
}

impl Catalog {
    /// Checks a channel record and, for a Forge frame channel, its identity.
    fn add_channel(&mut self, c: mcap::records::Channel) -> Result<(), String> {
        if c.schema_id != 0 && !self.schemas.contains_key(&c.schema_id) {
            return Err(format!(
                "channel {} ({}) names schema {}, which was not defined before it",
                c.id, c.topic, c.schema_id
            ));
        }
        if let Some(old) = self.channels.get(&c.id) {
            if *old != c {
                return Err(format!("channel {} is defined twice, differently", c.id));
            }
            return Ok(());
        }
        let is_frames = self
            .schemas
            .get(&c.schema_id)
            .is_some_and(|(name, enc)| name == codec::SCHEMA_NAME && enc == codec::SCHEMA_ENCODING);
        if is_frames {
            if c.message_encoding != codec::MESSAGE_ENCODING {
                return Err(format!(
                    "channel {} ({}) carries {} frames, expected {}",
                    c.id,
                    c.topic,
                    c.message_encoding,
                    codec::MESSAGE_ENCODING
                ));
            }
            let identity = SessionIdentity::from_metadata(&c.metadata)
                .map_err(|why| format!("channel {} ({}) identity: {why}", c.id, c.topic))?;
            self.session_of.insert(c.id, self.sessions.len());
            self.sessions.push(Session {
                channel_id: c.id,
                topic: c.topic.clone(),
                identity,
                frames: 0,
            });
        }
        self.channels.insert(c.id, c);
        Ok(())
    }

    /// Classifies and checks one message.
    fn classify(&self, channel: u16, data: &[u8]) -> Result<Item, String> {
        let Some(c) = self.channels.get(&channel) else {
            return Err(format!(
                "a message on channel {channel}, which was not defined before it"
            ));
        };
        if self.session_of.contains_key(&channel) {
            return codec::decode_head(data)
                .map(Item::Frame)
                .map_err(|e| format!("a frame on channel {channel} ({}): {e}", c.topic));
        }
        if c.topic == events::TOPIC && c.message_encoding == events::ENCODING {
            return serde_json::from_slice(data)
                .map(Item::Event)
                .map_err(|e| format!("an event on {}: {e}", events::TOPIC));
        }
        Ok(Item::Other)
    }
}

/// What a run of records contributed: applied only once a whole chunk
/// read cleanly.
#[derive(Debug, Default)]
struct Found {
    counts: BTreeMap<u16, u64>,
    /// `(channel, head, log_time)` of each frame.
    frames: Vec<(u16, codec::RecordHead, u64)>,
    events: Vec<Event>,
}

impl Found {
    fn message(
        &mut self,
        catalog: &Catalog,
        channel: u16,
        log_time: u64,
        data: &[u8],
    ) -> Result<(), String> {
        match catalog.classify(channel, data)? {
            Item::Frame(head) => self.frames.push((channel, head, log_time)),
            Item::Event(e) => self.events.push(e),
            Item::Other => {}
        }
        *self.counts.entry(channel).or_default() += 1;
        Ok(())
    }
}

impl Recording {
    /// Opens a complete recording; anything cut short, damaged or foreign
    /// is an error saying what was expected and found, and how far the
    /// file could be read.
    pub fn open(path: impl AsRef<Path>) -> Result<Recording, ReadError> {
        let rec = Self::open_recovering(path)?;
        if let Some(d) = rec.damage.first() {
            return Err(ReadError::Incomplete {
                path: rec.path.clone(),
                reason: d.reason.clone(),
                readable_bytes: d.offset,
                file_bytes: rec.bytes.len() as u64,
                chunks: rec.chunks_before(d.offset),
                frames: rec.frames_before(d.offset),
            });
        }
        Ok(rec)
    }

    /// Opens what is readable of a recording: every complete chunk up to
    /// the first place the file stops short, skipping chunks that are
    /// damaged inside. [`damage`](Self::damage) says what was skipped.
    /// Errors only for a file that is not a Forge recording at all.
    pub fn open_recovering(path: impl AsRef<Path>) -> Result<Recording, ReadError> {
        let path = path.as_ref().to_owned();
        let bytes = std::fs::read(&path).map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
        Self::from_bytes(path, bytes)
    }

    /// Reads a recording held in memory (`path` names it in messages), with
    /// recovery as [`open_recovering`](Self::open_recovering).
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<Recording, ReadError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            let shown = &bytes[..bytes.len().min(8)];
            return Err(ReadError::NotMcap {
                path,
                found: if shown.is_empty() {
                    "an empty file".into()
                } else {
                    format!("{shown:02x?}")
                },
            });
        }
        let mut rec = Recording {
            path,
            bytes,
            profile: String::new(),
            library: String::new(),
            metadata: BTreeMap::new(),
            catalog: Catalog::default(),
            channels: Vec::new(),
            blocks: Vec::new(),
            frames: 0,
            missed: Vec::new(),
            samples: Vec::new(),
            ends: Vec::new(),
            damage: Vec::new(),
            complete: false,
            chunks: 0,
            file_len: 0,
            cache: Mutex::new(None),
        };
        rec.scan()?;
        Ok(rec)
    }

    /// Scans the file, borrowing its bytes apart from `self` so records
    /// are read in place, never copied.
    fn scan(&mut self) -> Result<(), ReadError> {
        let bytes = std::mem::take(&mut self.bytes);
        let result = self.scan_bytes(&bytes);
        self.bytes = bytes;
        result
    }

    fn scan_bytes(&mut self, file: &[u8]) -> Result<(), ReadError> {
        let len = file.len() as u64;
        self.file_len = len;
        let mut at = MAGIC.len() as u64;
        let mut catalog = Catalog::default();
        let mut counts: BTreeMap<u16, u64> = BTreeMap::new();
        let mut seen_header = false;
        let mut in_summary = false;
        let mut statistics = None;
        let mut loose: Vec<RecordedFrame> = Vec::new();
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
            let record = match mcap_io::parse(opcode, &file[body.clone()]) {
                Ok(Some(r)) => r,
                Ok(None) if seen_header => {
                    at = next;
                    continue;
                }
                Ok(None) => {
                    return Err(self.foreign(format!(
                        "expected a Header record first, found opcode {opcode:#04x}"
                    )))
                }
                Err(e) => {
                    self.stop(
                        at,
                        format!("record with opcode {opcode:#04x} does not parse: {e}"),
                    );
                    break;
                }
            };
            if !seen_header && !matches!(record, Record::Header(_)) {
                return Err(self.foreign(format!(
                    "expected a Header record first, found opcode {opcode:#04x}"
                )));
            }
            match record {
                Record::Header(h) => {
                    if seen_header {
                        self.stop(at, "a second Header record".into());
                        break;
                    }
                    seen_header = true;
                    self.profile = h.profile;
                    self.library = h.library;
                    if self.profile != PROFILE {
                        return Err(self.foreign(format!(
                            "expected profile {PROFILE:?}, found {:?} (written by {:?})",
                            self.profile, self.library
                        )));
                    }
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
                        self.complete = true;
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
                            self.flush_loose(&mut loose, &mut catalog);
                            self.chunks += 1;
                            catalog = chunk_catalog;
                            if let Some(block) = self.absorb(found, &mut catalog, &mut counts) {
                                self.blocks.push(Block {
                                    source: Source::Chunk { record, offset: at },
                                    ..block
                                });
                            }
                        }
                        Err(reason) => self.damage.push(Damage {
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
                Record::Channel(c) => {
                    if let Err(what) = catalog.add_channel(c) {
                        self.stop(at, what);
                        break;
                    }
                }
                Record::Message { header, data } => {
                    let mut found = Found::default();
                    if let Err(what) =
                        found.message(&catalog, header.channel_id, header.log_time, &data)
                    {
                        self.stop(at, what);
                        break;
                    }
                    if found.frames.is_empty() {
                        self.absorb(found, &mut catalog, &mut counts);
                    } else {
                        // Checked above: decodes.
                        let rec =
                            codec::decode(&data).map_err(|e| self.corrupt(at, e.to_string()))?;
                        *counts.entry(header.channel_id).or_default() += 1;
                        loose.push(RecordedFrame {
                            index: self.frames + loose.len() as u64,
                            session: catalog.session_of[&header.channel_id],
                            position: rec.position,
                            slot_flags: rec.slot_flags,
                            raw: rec.raw,
                            log_time_ns: header.log_time,
                            payload: rec.payload,
                        });
                    }
                }
                Record::Metadata(m) if m.name == METADATA_NAME => self.metadata = m.metadata,
                _ => {}
            }
            at = next;
        }
        self.flush_loose(&mut loose, &mut catalog);
        self.catalog = catalog;
        self.finish_channels(&counts);
        if self.catalog.sessions.is_empty()
            && !self.catalog.channels.is_empty()
            && !self
                .catalog
                .schemas
                .values()
                .any(|(n, _)| n == codec::SCHEMA_NAME)
        {
            return Err(self.foreign(format!(
                "no channel uses the {:?} schema",
                codec::SCHEMA_NAME
            )));
        }
        if let Some((offset, stats)) = statistics {
            if self.damage.is_empty() {
                for c in &self.channels {
                    let said = stats
                        .channel_message_counts
                        .get(&c.id)
                        .copied()
                        .unwrap_or(0);
                    if said != c.messages {
                        return Err(self.corrupt(
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
        Ok(())
    }

    fn foreign(&self, why: String) -> ReadError {
        ReadError::Foreign {
            path: self.path.clone(),
            why,
        }
    }

    fn corrupt(&self, offset: u64, what: String) -> ReadError {
        ReadError::Corrupt {
            path: self.path.clone(),
            offset,
            what,
        }
    }

    /// Records a damage that stops the scan at `offset`.
    fn stop(&mut self, offset: u64, reason: String) {
        self.damage.push(Damage {
            offset,
            skipped: self.file_len - offset,
            fatal: true,
            reason,
        });
    }

    fn chunks_before(&self, offset: u64) -> u64 {
        self.blocks
            .iter()
            .filter(|b| matches!(b.source, Source::Chunk { offset: o, .. } if o < offset))
            .count() as u64
    }

    fn frames_before(&self, offset: u64) -> u64 {
        self.blocks
            .iter()
            .filter(|b| match b.source {
                Source::Chunk { offset: o, .. } => o < offset,
                Source::Loose(_) => true,
            })
            .map(|b| b.count)
            .sum()
    }

    /// Applies what a whole chunk (or a loose message) held; returns a
    /// block (its source to be filled in) if it held frames.
    fn absorb(
        &mut self,
        found: Found,
        catalog: &mut Catalog,
        counts: &mut BTreeMap<u16, u64>,
    ) -> Option<Block> {
        for (id, n) in found.counts {
            *counts.entry(id).or_default() += n;
        }
        for e in found.events {
            match e {
                Event::Missed(m) => self.missed.push(m),
                Event::Sample(r) => self.samples.push(r),
                Event::End(e) => self.ends.push(e),
            }
        }
        if found.frames.is_empty() {
            return None;
        }
        let mut sequences: Option<(u64, u64)> = None;
        let mut times = (u64::MAX, 0);
        for (channel, head, log_time) in &found.frames {
            if let Some(&s) = catalog.session_of.get(channel) {
                catalog.sessions[s].frames += 1;
            }
            if !head.raw {
                let (lo, hi) = sequences.get_or_insert((head.sequence, head.sequence));
                *lo = (*lo).min(head.sequence);
                *hi = (*hi).max(head.sequence);
            }
            times = (times.0.min(*log_time), times.1.max(*log_time));
        }
        let count = found.frames.len() as u64;
        let block = Block {
            source: Source::Loose(Arc::from(Vec::new())),
            first: self.frames,
            count,
            sequences,
            times,
        };
        self.frames += count;
        Some(block)
    }

    /// Turns unchunked frames read so far into a block.
    fn flush_loose(&mut self, loose: &mut Vec<RecordedFrame>, catalog: &mut Catalog) {
        if loose.is_empty() {
            return;
        }
        let frames: Arc<[RecordedFrame]> = std::mem::take(loose).into();
        let mut sequences: Option<(u64, u64)> = None;
        let mut times = (u64::MAX, 0);
        for f in frames.iter() {
            catalog.sessions[f.session].frames += 1;
            if let Some(s) = f.sequence() {
                let (lo, hi) = sequences.get_or_insert((s, s));
                *lo = (*lo).min(s);
                *hi = (*hi).max(s);
            }
            times = (times.0.min(f.log_time_ns), times.1.max(f.log_time_ns));
        }
        let count = frames.len() as u64;
        self.blocks.push(Block {
            source: Source::Loose(frames),
            first: self.frames,
            count,
            sequences,
            times,
        });
        self.frames += count;
    }

    fn finish_channels(&mut self, counts: &BTreeMap<u16, u64>) {
        let catalog = &self.catalog;
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
        self.channels = channels;
    }

    /// Decodes block `b`'s frames (or takes them from the cache).
    fn block_frames(&self, b: usize) -> Result<Arc<[RecordedFrame]>, ReadError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, frames)) = cache.as_ref() {
            if *cached == b {
                return Ok(frames.clone());
            }
        }
        let block = &self.blocks[b];
        let frames: Arc<[RecordedFrame]> = match &block.source {
            Source::Loose(frames) => frames.clone(),
            Source::Chunk { record, offset } => {
                let mut out = Vec::with_capacity(block.count as usize);
                let body = &self.bytes[record.start + 9..record.end];
                let Ok(Some(Record::Chunk { header, data })) =
                    mcap_io::parse(mcap::records::op::CHUNK, body)
                else {
                    return Err(self.corrupt(*offset, "the chunk no longer parses".into()));
                };
                mcap_io::for_each_in_chunk(&header, &data, MAX_CHUNK_BYTES, |r| {
                    let Record::Message { header, data } = r else {
                        return Ok(());
                    };
                    let Some(&session) = self.catalog.session_of.get(&header.channel_id) else {
                        return Ok(());
                    };
                    let rec = codec::decode(&data).map_err(|e: CodecError| e.to_string())?;
                    out.push(RecordedFrame {
                        index: block.first + out.len() as u64,
                        session,
                        position: rec.position,
                        slot_flags: rec.slot_flags,
                        raw: rec.raw,
                        log_time_ns: header.log_time,
                        payload: rec.payload,
                    });
                    Ok(())
                })
                .map_err(|what| self.corrupt(*offset, what))?;
                out.into()
            }
        };
        *cache = Some((b, frames.clone()));
        Ok(frames)
    }

    fn block_of(&self, index: u64) -> Option<usize> {
        let b = self.blocks.partition_point(|b| b.first + b.count <= index);
        (b < self.blocks.len()).then_some(b)
    }

    /// Frame `index` (0-based, in recording order).
    pub fn frame(&self, index: u64) -> Result<RecordedFrame, ReadError> {
        let Some(b) = self.block_of(index) else {
            return Err(ReadError::OutOfRange {
                index,
                len: self.frames,
            });
        };
        let frames = self.block_frames(b)?;
        let i = (index - self.blocks[b].first) as usize;
        Ok(frames[i].clone())
    }

    /// Frames from `start` on, in order, a chunk decoded at a time.
    pub fn frames_from(&self, start: u64) -> Frames<'_> {
        Frames {
            recording: self,
            next: start,
            current: None,
        }
    }

    /// The index of the first frame carrying telemetry sequence `sequence`.
    pub fn find_sequence(&self, sequence: u64) -> Result<Option<u64>, ReadError> {
        for (b, block) in self.blocks.iter().enumerate() {
            if !block
                .sequences
                .is_some_and(|(lo, hi)| lo <= sequence && sequence <= hi)
            {
                continue;
            }
            let frames = self.block_frames(b)?;
            if let Some(f) = frames.iter().find(|f| f.sequence() == Some(sequence)) {
                return Ok(Some(f.index));
            }
        }
        Ok(None)
    }

    /// The index of the first frame at or after wall-clock time `unix_ns`.
    pub fn find_time(&self, unix_ns: u64) -> Result<Option<u64>, ReadError> {
        for (b, block) in self.blocks.iter().enumerate() {
            if block.times.1 < unix_ns {
                continue;
            }
            let frames = self.block_frames(b)?;
            if let Some(f) = frames.iter().find(|f| f.log_time_ns >= unix_ns) {
                return Ok(Some(f.index));
            }
        }
        Ok(None)
    }

    /// The first frame of `session` at or after index `from`.
    pub fn next_of_session(&self, session: usize, from: u64) -> Result<Option<u64>, ReadError> {
        for f in self.frames_from(from) {
            let f = f?;
            if f.session == session {
                return Ok(Some(f.index));
            }
        }
        Ok(None)
    }

    /// The index of the first frame of `session` that `from` names: the
    /// first carrying that telemetry sequence, or the first at or after
    /// that time (an offset counts from the session's first frame).
    pub fn start_index(&self, session: usize, from: From) -> Result<Option<u64>, ReadError> {
        let at_time = |t: u64| match self.find_time(t)? {
            Some(i) => self.next_of_session(session, i),
            None => Ok(None),
        };
        match from {
            From::Sequence(seq) => {
                for f in self.frames_from(0) {
                    let f = f?;
                    if f.session == session && f.sequence() == Some(seq) {
                        return Ok(Some(f.index));
                    }
                }
                Ok(None)
            }
            From::Time(t) => at_time(t),
            From::Offset(d) => {
                let first = match self.next_of_session(session, 0)? {
                    Some(i) => self.frame(i)?.log_time_ns,
                    None => return Ok(None),
                };
                let d = d.as_nanos().min(u128::from(u64::MAX)) as u64;
                at_time(first.saturating_add(d))
            }
        }
    }

    /// Frames recorded (in the readable part).
    pub fn len(&self) -> u64 {
        self.frames
    }

    /// No frames.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// The recorded sessions, in the order their channels appear.
    pub fn sessions(&self) -> &[Session] {
        &self.catalog.sessions
    }

    /// Every channel of the file with its message count.
    pub fn channels(&self) -> &[ChannelInfo] {
        &self.channels
    }

    /// Ring positions a `--tap` recorder missed, as it recorded them.
    pub fn missed(&self) -> &[MissedRange] {
        &self.missed
    }

    /// The ring's counters and latency histogram, sampled about once a
    /// second while recording, in order.
    pub fn samples(&self) -> &[RingSample] {
        &self.samples
    }

    /// How each session's recording ended, when it ended cleanly.
    pub fn ends(&self) -> &[SessionEnd] {
        &self.ends
    }

    /// What [`open_recovering`](Self::open_recovering) read around; empty
    /// for a complete, sound file.
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// Did the file end with its summary, footer and magic?
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Complete chunks read.
    pub fn chunk_count(&self) -> u64 {
        self.chunks
    }

    /// The `forge.recording` metadata (writer, part number, host, start).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The library that wrote the file.
    pub fn library(&self) -> &str {
        &self.library
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's size.
    pub fn file_bytes(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Earliest and latest frame time (wall clock ns), if any frame.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        let first = self.blocks.iter().map(|b| b.times.0).min()?;
        let last = self.blocks.iter().map(|b| b.times.1).max()?;
        Some((first, last))
    }
}

/// Frames in order; see [`Recording::frames_from`].
#[derive(Debug)]
pub struct Frames<'a> {
    recording: &'a Recording,
    next: u64,
    current: Option<(usize, Arc<[RecordedFrame]>)>,
}

impl Iterator for Frames<'_> {
    type Item = Result<RecordedFrame, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rec = self.recording;
        if self.next >= rec.frames {
            return None;
        }
        let b = rec.block_of(self.next)?;
        if self.current.as_ref().is_none_or(|(c, _)| *c != b) {
            match rec.block_frames(b) {
                Ok(frames) => self.current = Some((b, frames)),
                Err(e) => {
                    self.next = rec.frames;
                    return Some(Err(e));
                }
            }
        }
        let (_, frames) = self.current.as_ref()?;
        let f = frames[(self.next - rec.blocks[b].first) as usize].clone();
        self.next += 1;
        Some(Ok(f))
    }
}
