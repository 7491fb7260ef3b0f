//! Writes recordings: MCAP files of chunked, compressed messages, rolled to
//! a new file at a size or an age.
//!
//! Chunks are built in memory and written whole (the mcap writer's
//! no-seeking mode), so a recording cut short — SIGKILL, a full disk — ends
//! with complete chunks followed by at most one record that stops short,
//! which [`crate::read`] (and `mcap recover`) skip. Chunks are also closed
//! every flush interval, so a slow stream loses at most that much.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_cli::output::{Dir, Output, OutputError};
use mcap::records::MessageHeader;

use crate::codec;
use crate::events::{self, Event};
use crate::identity::SessionIdentity;

/// The MCAP header's profile in every Forge recording.
pub const PROFILE: &str = "forge";
/// Name of the metadata record describing the recording.
pub const METADATA_NAME: &str = "forge.recording";

/// Chunk compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "engines", derive(clap::ValueEnum))]
pub enum Compression {
    /// zstd: smaller files, more CPU.
    #[default]
    Zstd,
    /// lz4: faster, larger.
    Lz4,
    /// Uncompressed chunks.
    None,
}

impl Compression {
    fn mcap(self) -> Option<mcap::Compression> {
        match self {
            Compression::Zstd => Some(mcap::Compression::Zstd),
            Compression::Lz4 => Some(mcap::Compression::Lz4),
            Compression::None => None,
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
            Compression::None => "none",
        }
    }
}

/// How to write.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Chunk compression.
    pub compression: Compression,
    /// Uncompressed bytes per chunk before it is closed.
    pub chunk_size: u64,
    /// Roll to a new file once this many bytes are written (checked after
    /// each chunk, so a file ends at most one chunk past it).
    pub max_size: Option<u64>,
    /// Roll to a new file once this one is this old.
    pub max_duration: Option<Duration>,
    /// zstd worker threads; 0 compresses on the recording thread.
    pub compression_threads: u32,
    /// Compression level (zstd 1–19, lz4 0–16); 0 is the library's default
    /// (zstd 3).
    pub compression_level: u32,
    /// What wrote the file, for the metadata (`forge-record 0.1.0`).
    pub writer: String,
    /// Replace the first file and rolled parts that exist (`--force`);
    /// otherwise they are refused. A symbolic link is never followed
    /// either way.
    pub replace: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compression: Compression::Zstd,
            chunk_size: 1 << 20,
            max_size: None,
            max_duration: None,
            compression_threads: 0,
            compression_level: 0,
            writer: format!("forge-record {}", env!("CARGO_PKG_VERSION")),
            replace: false,
        }
    }
}

/// Why a recording could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The file could not be created (it exists, a link is in the way,
    /// the directory cannot be written).
    #[error(transparent)]
    Create(#[from] OutputError),
    /// Writing failed (a full disk, an I/O error). What was written up to
    /// the last complete chunk stays readable.
    #[error("writing {path} failed after {bytes} bytes")]
    Write {
        /// The file.
        path: PathBuf,
        /// Bytes that reached it.
        bytes: u64,
        /// Why.
        source: mcap::McapError,
    },
    /// A payload no slot could have held.
    #[error(transparent)]
    Codec(#[from] codec::CodecError),
}

/// A file handle that counts the bytes written through it.
struct Counted {
    file: File,
    written: Arc<AtomicU64>,
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        // SYNC: a counter read by the same thread; no data rides on it.
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Counted {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

/// One file being written.
struct Part {
    path: PathBuf,
    mcap: mcap::Writer<Counted>,
    written: Arc<AtomicU64>,
    opened: Instant,
    /// Channel id in this file of each session's frames.
    channels: HashMap<u64, u16>,
    schema: u16,
    events: u16,
}

/// A summary of what a writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Files, in order.
    pub files: Vec<PathBuf>,
    /// Frames handed to the writer, all files.
    pub frames: u64,
    /// Frames in chunks known to have reached the file: a failed write
    /// loses the ones in the chunk being built (a reader may still find
    /// that chunk whole when the write failed just after it, in its index).
    pub durable_frames: u64,
    /// Message bytes handed to the writer (before compression).
    pub message_bytes: u64,
    /// Bytes on disk, all files.
    pub file_bytes: u64,
}

/// Writes a recording, rolling files as asked.
pub struct RecordingWriter {
    base: PathBuf,
    /// The directory of `base`, opened once: rolled parts go beside the
    /// first whatever happens to the path meanwhile.
    dir: Dir,
    options: WriterOptions,
    part: Option<Part>,
    sessions: HashMap<u64, SessionIdentity>,
    /// The session declared last: a rolled file declares it too.
    current: Option<u64>,
    scratch: Vec<u8>,
    written: Written,
    /// Bytes of files already closed.
    closed_bytes: u64,
}

impl std::fmt::Debug for RecordingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingWriter")
            .field("base", &self.base)
            .field("written", &self.written)
            .finish()
    }
}

/// The path of file number `part` of a recording at `base`: `base` itself,
/// then `stem.1.ext`, `stem.2.ext`, …
pub fn part_path(base: &Path, part: u32) -> PathBuf {
    if part == 0 {
        return base.to_owned();
    }
    let stem = base
        .file_stem()
        .map_or_else(|| "recording".into(), |s| s.to_string_lossy().into_owned());
    let name = match base.extension() {
        Some(ext) => format!("{stem}.{part}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{part}"),
    };
    base.with_file_name(name)
}

/// The rolled parts of a recording at `base` already in `dir`
/// (`stem.N.ext`), so a recording that would roll onto an earlier one's
/// files is refused at the start, not hours later at its first roll.
fn existing_parts(dir: &Path, base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return Vec::new();
    };
    let mut parts: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            let n = part_number(base, name)?;
            Some((n, dir.join(name)))
        })
        .collect();
    parts.sort();
    parts.into_iter().map(|(_, p)| p).collect()
}

/// `N` if `name` is rolled part `N` (> 0) of a recording at `base`.
fn part_number(base: &Path, name: &str) -> Option<u64> {
    let rest = name
        .strip_prefix(base.file_stem()?.to_str()?)?
        .strip_prefix('.')?;
    let digits = match base.extension() {
        Some(ext) => rest.strip_suffix(ext.to_str()?)?.strip_suffix('.')?,
        None => rest,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().filter(|&n| n > 0)
}

impl RecordingWriter {
    /// Creates the first file at `path`. Unless `options.replace`, a file
    /// already there, or a rolled part of an earlier recording beside it
    /// (`NAME.1.mcap`, …), is refused; a symbolic link is never followed.
    pub fn create(path: &Path, options: WriterOptions) -> Result<Self, WriteError> {
        let parent = path.parent().unwrap_or(Path::new(""));
        let dir = Dir::open(parent)?;
        if !options.replace {
            if let Some(first) = existing_parts(parent, path).into_iter().next() {
                let what = dir.what_is(first.file_name().unwrap_or_default());
                return Err(WriteError::Create(OutputError::Exists {
                    path: first,
                    what: what.unwrap_or("something"),
                }));
            }
        }
        let mut w = RecordingWriter {
            base: path.to_owned(),
            dir,
            options,
            part: None,
            sessions: HashMap::new(),
            current: None,
            scratch: Vec::with_capacity(codec::MAX_MESSAGE_LEN),
            written: Written::default(),
            closed_bytes: 0,
        };
        w.open_part()?;
        Ok(w)
    }

    fn open_part(&mut self) -> Result<(), WriteError> {
        let number = self.written.files.len() as u32;
        let path = part_path(&self.base, number);
        let name = path
            .file_name()
            .ok_or_else(|| OutputError::NoFileName { path: path.clone() })?;
        let file = self
            .dir
            .create(name, &Output::new().replace(self.options.replace))?;
        let written = Arc::new(AtomicU64::new(0));
        let counted = Counted {
            file,
            written: written.clone(),
        };
        let o = &self.options;
        let opts = mcap::WriteOptions::new()
            .profile(PROFILE)
            .library(o.writer.clone())
            .compression(o.compression.mcap())
            .chunk_size(Some(o.chunk_size))
            // Chunks are built in memory and written whole: an interrupted
            // file never ends inside a chunk whose length was not filled in.
            .disable_seeking(true)
            .compression_threads(o.compression_threads)
            .compression_level(o.compression_level);
        let fail = |source, bytes| WriteError::Write {
            path: path.clone(),
            bytes,
            source,
        };
        let mut mcap = mcap::Writer::with_options(counted, opts)
            .map_err(|e| fail(e, written.load(Ordering::Relaxed)))?;
        let (schema, events) = (|| {
            let mut meta = BTreeMap::new();
            meta.insert("forge.format".into(), crate::FORMAT_VERSION.to_string());
            meta.insert("writer".into(), o.writer.clone());
            meta.insert("part".into(), number.to_string());
            meta.insert(
                "first_part".into(),
                self.base
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            );
            meta.insert("host".into(), crate::identity::host_name());
            meta.insert(
                "started_unix_ns".into(),
                forge_fabric::clock::unix_ns().to_string(),
            );
            mcap.write_metadata(&mcap::records::Metadata {
                name: METADATA_NAME.into(),
                metadata: meta,
            })?;
            let schema = mcap.add_schema(
                codec::SCHEMA_NAME,
                codec::SCHEMA_ENCODING,
                codec::SCHEMA_TEXT.as_bytes(),
            )?;
            let events = mcap.add_channel(0, events::TOPIC, events::ENCODING, &BTreeMap::new())?;
            Ok((schema, events))
        })()
        .map_err(|e| fail(e, written.load(Ordering::Relaxed)))?;
        self.written.files.push(path.clone());
        self.part = Some(Part {
            path,
            mcap,
            written,
            opened: Instant::now(),
            channels: HashMap::new(),
            schema,
            events,
        });
        Ok(())
    }

    /// Declares a session whose frames follow. Call before its first frame.
    /// Its channel (the session's identity) is written with the next thing
    /// written, frame, event, flush or the file's end, so a recording of an
    /// idle ring still says which ring it recorded.
    pub fn add_session(&mut self, identity: SessionIdentity) {
        let session = identity.session_id;
        self.sessions.insert(session, identity);
        self.current = Some(session);
    }

    /// Writes the current session's channel into this file if it is not
    /// there yet.
    fn declare_current(&mut self) -> Result<(), WriteError> {
        match self.current {
            Some(session) if self.part.is_some() => self.channel(session).map(|_| ()),
            _ => Ok(()),
        }
    }

    fn part(&mut self) -> &mut Part {
        self.part
            .as_mut()
            .expect("a writer always has an open part")
    }

    fn channel(&mut self, session: u64) -> Result<u16, WriteError> {
        if let Some(&id) = self.part().channels.get(&session) {
            return Ok(id);
        }
        let identity = self
            .sessions
            .get(&session)
            .cloned()
            .unwrap_or_else(|| SessionIdentity {
                session_id: session,
                ..Default::default()
            });
        let part = self.part();
        let id = part
            .mcap
            .add_channel(
                part.schema,
                &identity.topic(),
                codec::MESSAGE_ENCODING,
                &identity.to_metadata(),
            )
            .map_err(|source| WriteError::Write {
                path: part.path.clone(),
                bytes: part.written.load(Ordering::Relaxed),
                source,
            })?;
        part.channels.insert(session, id);
        Ok(id)
    }

    /// Writes one frame: the slot's `payload` as read at `position`, with
    /// `log_time_ns` its wall-clock time.
    #[inline]
    pub fn write_frame(
        &mut self,
        session: u64,
        position: u64,
        slot_flags: u16,
        payload: &[u8],
        log_time_ns: u64,
    ) -> Result<(), WriteError> {
        let channel = self.channel(session)?;
        let sequence = codec::encode_into(&mut self.scratch, position, slot_flags, payload)?;
        // MCAP's message sequence is 32 bits: the frame's low 32 (the whole
        // sequence is in the message), or the position's for a RAW payload.
        let sequence = sequence.unwrap_or(position) as u32;
        let header = MessageHeader {
            channel_id: channel,
            sequence,
            log_time: log_time_ns,
            publish_time: log_time_ns,
        };
        let part = self
            .part
            .as_mut()
            .expect("a writer always has an open part");
        let before = part.written.load(Ordering::Relaxed);
        part.mcap
            .write_to_known_channel(&header, &self.scratch)
            .map_err(|source| WriteError::Write {
                path: part.path.clone(),
                bytes: part.written.load(Ordering::Relaxed),
                source,
            })?;
        // A full chunk is written out before the message that overflows it
        // goes into the next one: everything before this frame is on disk.
        if part.written.load(Ordering::Relaxed) != before {
            self.written.durable_frames = self.written.frames;
        }
        self.written.frames += 1;
        self.written.message_bytes += self.scratch.len() as u64;
        Ok(())
    }

    /// Writes an event at wall-clock time `log_time_ns`.
    pub fn write_event(&mut self, event: &Event, log_time_ns: u64) -> Result<(), WriteError> {
        self.declare_current()?;
        let json = serde_json::to_vec(event).expect("events serialize");
        let part = self.part();
        let header = MessageHeader {
            channel_id: part.events,
            sequence: 0,
            log_time: log_time_ns,
            publish_time: log_time_ns,
        };
        part.mcap
            .write_to_known_channel(&header, &json)
            .map_err(|source| WriteError::Write {
                path: part.path.clone(),
                bytes: part.written.load(Ordering::Relaxed),
                source,
            })
    }

    /// Closes the current chunk and writes it out, so everything so far
    /// survives a kill.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.declare_current()?;
        let part = self.part();
        part.mcap.flush().map_err(|source| WriteError::Write {
            path: part.path.clone(),
            bytes: part.written.load(Ordering::Relaxed),
            source,
        })?;
        self.written.durable_frames = self.written.frames;
        Ok(())
    }

    /// The files written so far, the current one last.
    pub fn files(&self) -> &[PathBuf] {
        &self.written.files
    }

    /// Frames in chunks already written to the file.
    pub fn durable_frames(&self) -> u64 {
        self.written.durable_frames
    }

    /// Bytes on disk so far, all files.
    pub fn file_bytes(&self) -> u64 {
        self.closed_bytes
            + self
                .part
                .as_ref()
                .map_or(0, |p| p.written.load(Ordering::Relaxed))
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.written.frames
    }

    /// The file being written.
    pub fn current_path(&self) -> &Path {
        self.part.as_ref().map_or(&self.base, |p| &p.path)
    }

    /// Has the current file reached `--max-size` or `--max-duration`?
    pub fn wants_roll(&self) -> bool {
        let Some(part) = &self.part else { return false };
        let size = self
            .options
            .max_size
            .is_some_and(|max| part.written.load(Ordering::Relaxed) >= max);
        let age = self
            .options
            .max_duration
            .is_some_and(|max| part.opened.elapsed() >= max);
        size || age
    }

    /// Finishes the current file (summary, footer) and starts the next.
    /// Returns the path of the new file.
    pub fn roll(&mut self) -> Result<PathBuf, WriteError> {
        self.finish_part()?;
        self.open_part()?;
        Ok(self.current_path().to_owned())
    }

    fn finish_part(&mut self) -> Result<(), WriteError> {
        self.declare_current()?;
        let Some(mut part) = self.part.take() else {
            return Ok(());
        };
        let result = part.mcap.finish();
        let bytes = part.written.load(Ordering::Relaxed);
        self.closed_bytes += bytes;
        result.map_err(|source| WriteError::Write {
            path: part.path.clone(),
            bytes,
            source,
        })?;
        self.written.durable_frames = self.written.frames;
        Ok(())
    }

    /// Finishes the last file and says what was written.
    pub fn finish(mut self) -> Result<Written, WriteError> {
        self.finish_part()?;
        self.written.file_bytes = self.closed_bytes;
        Ok(self.written.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::SessionIdentity;

    #[test]
    fn rolled_files_are_numbered_beside_the_first() {
        let base = Path::new("/tmp/x/run.mcap");
        assert_eq!(part_path(base, 0), base);
        assert_eq!(part_path(base, 1), Path::new("/tmp/x/run.1.mcap"));
        assert_eq!(part_path(Path::new("run"), 12), Path::new("run.12"));
        let base = Path::new("d/run.mcap");
        assert_eq!(part_number(base, "run.1.mcap"), Some(1));
        assert_eq!(part_number(base, "run.12.mcap"), Some(12));
        for other in [
            "run.mcap",
            "run.0.mcap",
            "run.x.mcap",
            "run..mcap",
            "ran.1.mcap",
        ] {
            assert_eq!(part_number(base, other), None, "{other}");
        }
    }

    #[test]
    fn an_existing_recording_or_rolled_part_is_refused_unless_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.mcap");
        std::fs::write(dir.path().join("r.3.mcap"), b"earlier").unwrap();
        let e = RecordingWriter::create(&path, WriterOptions::default()).unwrap_err();
        assert!(e.to_string().contains("r.3.mcap already exists"), "{e}");
        assert!(!path.exists());
        let opts = WriterOptions {
            replace: true,
            ..Default::default()
        };
        RecordingWriter::create(&path, opts)
            .unwrap()
            .finish()
            .unwrap();
        std::fs::remove_file(dir.path().join("r.3.mcap")).unwrap();
        let e = RecordingWriter::create(&path, WriterOptions::default()).unwrap_err();
        assert!(e.to_string().contains("r.mcap already exists"), "{e}");
    }

    #[test]
    fn durable_frames_are_the_frames_a_reader_finds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.mcap");
        let opts = WriterOptions {
            chunk_size: 4096,
            ..Default::default()
        };
        let mut w = RecordingWriter::create(&path, opts).unwrap();
        w.add_session(SessionIdentity {
            session_id: 5,
            ..Default::default()
        });
        for i in 0..300u64 {
            w.write_frame(5, i, 0, &[7u8; 100], i).unwrap();
            if i % 50 == 0 {
                w.flush().unwrap();
            }
            let rec = crate::read::Recording::open_recovering(&path).unwrap();
            assert_eq!(rec.len(), w.durable_frames(), "after frame {i}");
        }
    }
}
