//! Reads recordings back: the offline view forge-top and forge-replay use.
//!
//! [`Recording::open`] scans the whole file once, record by record (see
//! `scan`): every chunk is decompressed and checked (its CRC, every message
//! decodes, every frame fits its ring's slots, every session's geometry is
//! one forge-init could make), and a table of chunks with their frame,
//! sequence and time ranges is kept; frames are decoded again, one chunk at
//! a time, when asked for. The file is held in memory, compressed.
//!
//! Memory stays bounded by the file: nothing is allocated by a count the
//! file claims before the file is checked to hold it, a chunk decompresses
//! to at most [`mcap_io::chunk_limit`] of its size, and events to at most
//! [`scan::event_budget`]. `FORMATS.md` gives the numbers.
//!
//! A file cut short (SIGKILL, a full disk) or damaged is refused by
//! [`Recording::open`] with how far it could be read;
//! [`Recording::open_recovering`] returns what is readable instead, like
//! `mcap recover`: every complete chunk before the cut, skipping a chunk
//! whose CRC or compression is broken but whose length is intact. A file
//! that lies (a ring geometry no forge-init makes, a frame larger than its
//! ring's slots) is refused either way.

mod catalog;
mod error;
mod parts;
mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mcap::records::Record;

use crate::args::From;
use crate::codec;
use crate::events::{MissedRange, RingSample, SessionEnd};
use crate::mcap_io;

use self::scan::{Refused, Scanned, MAGIC};

pub use self::error::{Damage, ReadError};
pub use self::parts::{ChannelInfo, RecordedFrame, Session};
pub use self::scan::{event_budget, EVENT_FLOOR, EVENT_RATIO};
pub use crate::mcap_io::{chunk_limit, CHUNK_FLOOR, CHUNK_RATIO, MAX_CHUNK_BYTES};

/// A Forge recording, opened.
pub struct Recording {
    path: PathBuf,
    bytes: Vec<u8>,
    found: Scanned,
    cache: Mutex<Option<(usize, Arc<[RecordedFrame]>)>>,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("path", &self.path)
            .field("file_bytes", &self.bytes.len())
            .field("frames", &self.found.frames)
            .field("chunks", &self.found.chunks)
            .field("sessions", &self.found.catalog.sessions.len())
            .field("complete", &self.found.complete)
            .field("damage", &self.found.damage)
            .finish()
    }
}

impl Recording {
    /// Opens a complete recording; anything cut short, damaged or foreign
    /// is an error saying what was expected and found, and how far the
    /// file could be read.
    pub fn open(path: impl AsRef<Path>) -> Result<Recording, ReadError> {
        let rec = Self::open_recovering(path)?;
        if let Some(d) = rec.found.damage.first() {
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
    /// Errors for a file that is not a Forge recording at all, or that
    /// claims what cannot be true.
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
        match scan::scan(&bytes) {
            Ok(found) => Ok(Recording {
                path,
                bytes,
                found,
                cache: Mutex::new(None),
            }),
            Err(Refused::Foreign(why)) => Err(ReadError::Foreign { path, why }),
            Err(Refused::Corrupt(offset, what)) => Err(ReadError::Corrupt { path, offset, what }),
        }
    }

    fn corrupt(&self, offset: u64, what: String) -> ReadError {
        ReadError::Corrupt {
            path: self.path.clone(),
            offset,
            what,
        }
    }

    fn chunks_before(&self, offset: u64) -> u64 {
        self.found
            .blocks
            .iter()
            .filter(|b| matches!(b.source, parts::Source::Chunk { offset: o, .. } if o < offset))
            .count() as u64
    }

    fn frames_before(&self, offset: u64) -> u64 {
        self.found
            .blocks
            .iter()
            .filter(|b| match b.source {
                parts::Source::Chunk { offset: o, .. } => o < offset,
                parts::Source::Loose(_) => true,
            })
            .map(|b| b.count)
            .sum()
    }

    /// Decodes block `b`'s frames (or takes them from the cache).
    fn block_frames(&self, b: usize) -> Result<Arc<[RecordedFrame]>, ReadError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, frames)) = cache.as_ref() {
            if *cached == b {
                return Ok(frames.clone());
            }
        }
        let block = &self.found.blocks[b];
        let frames: Arc<[RecordedFrame]> = match &block.source {
            parts::Source::Loose(frames) => frames.clone(),
            parts::Source::Chunk { record, offset } => {
                let mut out = Vec::with_capacity(block.count as usize);
                let body = &self.bytes[record.start + 9..record.end];
                let Ok(Some(Record::Chunk { header, data })) =
                    mcap_io::parse(mcap::records::op::CHUNK, body)
                else {
                    return Err(self.corrupt(*offset, "the chunk no longer parses".into()));
                };
                mcap_io::for_each_in_chunk(&header, &data, |r| -> Result<(), catalog::Bad> {
                    let Record::Message { header, data } = r else {
                        return Ok(());
                    };
                    let Some(&session) = self.found.catalog.session_of.get(&header.channel_id)
                    else {
                        return Ok(());
                    };
                    if out.len() as u64 == block.count {
                        return Err(catalog::Bad::Damaged(format!(
                            "the chunk now holds more than its {} frames",
                            block.count
                        )));
                    }
                    let rec =
                        codec::decode(&data).map_err(|e| catalog::Bad::Damaged(e.to_string()))?;
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
                .map_err(|bad| match bad {
                    catalog::Bad::Damaged(what) | catalog::Bad::Corrupt(what) => {
                        self.corrupt(*offset, what)
                    }
                })?;
                if out.len() as u64 != block.count {
                    return Err(self.corrupt(
                        *offset,
                        format!(
                            "the chunk now holds {} frames, it held {}",
                            out.len(),
                            block.count
                        ),
                    ));
                }
                out.into()
            }
        };
        *cache = Some((b, frames.clone()));
        Ok(frames)
    }

    fn block_of(&self, index: u64) -> Option<usize> {
        let b = self
            .found
            .blocks
            .partition_point(|b| b.first + b.count <= index);
        (b < self.found.blocks.len()).then_some(b)
    }

    /// Frame `index` (0-based, in recording order).
    pub fn frame(&self, index: u64) -> Result<RecordedFrame, ReadError> {
        let Some(b) = self.block_of(index) else {
            return Err(ReadError::OutOfRange {
                index,
                len: self.found.frames,
            });
        };
        let frames = self.block_frames(b)?;
        let i = (index - self.found.blocks[b].first) as usize;
        frames.get(i).cloned().ok_or(ReadError::OutOfRange {
            index,
            len: self.found.frames,
        })
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
        for (b, block) in self.found.blocks.iter().enumerate() {
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
        for (b, block) in self.found.blocks.iter().enumerate() {
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
        self.found.frames
    }

    /// No frames.
    pub fn is_empty(&self) -> bool {
        self.found.frames == 0
    }

    /// The recorded sessions, in the order their channels appear.
    pub fn sessions(&self) -> &[Session] {
        &self.found.catalog.sessions
    }

    /// Every channel of the file with its message count.
    pub fn channels(&self) -> &[ChannelInfo] {
        &self.found.channels
    }

    /// Ring positions a `--tap` recorder missed, as it recorded them.
    pub fn missed(&self) -> &[MissedRange] {
        &self.found.missed
    }

    /// The ring's counters and latency histogram, sampled about once a
    /// second while recording, in order.
    pub fn samples(&self) -> &[RingSample] {
        &self.found.samples
    }

    /// How each session's recording ended, when it ended cleanly.
    pub fn ends(&self) -> &[SessionEnd] {
        &self.found.ends
    }

    /// What [`open_recovering`](Self::open_recovering) read around; empty
    /// for a complete, sound file.
    pub fn damage(&self) -> &[Damage] {
        &self.found.damage
    }

    /// Did the file end with its summary, footer and magic?
    pub fn is_complete(&self) -> bool {
        self.found.complete
    }

    /// Complete chunks read.
    pub fn chunk_count(&self) -> u64 {
        self.found.chunks
    }

    /// The `forge.recording` metadata (writer, part number, host, start).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.found.metadata
    }

    /// The library that wrote the file.
    pub fn library(&self) -> &str {
        &self.found.library
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
        let first = self.found.blocks.iter().map(|b| b.times.0).min()?;
        let last = self.found.blocks.iter().map(|b| b.times.1).max()?;
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
        if self.next >= rec.found.frames {
            return None;
        }
        let b = rec.block_of(self.next)?;
        if self.current.as_ref().is_none_or(|(c, _)| *c != b) {
            match rec.block_frames(b) {
                Ok(frames) => self.current = Some((b, frames)),
                Err(e) => {
                    self.next = rec.found.frames;
                    return Some(Err(e));
                }
            }
        }
        let (_, frames) = self.current.as_ref()?;
        let f = frames
            .get((self.next - rec.found.blocks[b].first) as usize)?
            .clone();
        self.next += 1;
        Some(Ok(f))
    }
}
