//! `.forge` ring images: a segment's header and every slot as the observer
//! copied and validated them at one moment, for looking at a ring after the
//! fact (forge-top's freeze and save write one; `forge-top --file` opens
//! it).
//!
//! An image gives back fabric's own types — a [`Snapshot`], the two
//! [`HolderCheck`]s and a [`SlotCopy`] per slot — so an inspector renders an
//! image with the very code it renders a live ring with.
//!
//! ```text
//! 0   "FORGEIMG"  u32 version  u32 flags(0)  u64 meta_len
//! 24  meta: meta_len bytes of JSON (when, where, the header snapshot, holders)
//!     slot_count slot records, each 8-aligned:
//!       u32 index  u8 state  u8 checks  u16 flags  u16 len  u16 copied  u32 stamp
//!       u64 position  copied bytes  zero padding to 8
//!     "FORGEEND"  u64 slot_count  u32 crc32(everything before "FORGEEND")  u32 0
//! ```
//!
//! `FORMATS.md` beside this crate documents every field.

use std::path::Path;

use forge_cli::output::{Output, OutputError};

use forge_fabric::hist::Histogram;
use forge_fabric::observe::{HolderCheck, ObserveError, PaceSnapshot, SideSnapshot};
use forge_fabric::segment::IdentitySnapshot;
use forge_fabric::{
    Coded, Corruption, Observer, Role, SegmentState, SlotCopy, SlotState, Snapshot,
    PAYLOAD_CAPACITY,
};

/// First bytes of an image.
pub const MAGIC: &[u8; 8] = b"FORGEIMG";
/// First bytes of the trailer.
pub const END_MAGIC: &[u8; 8] = b"FORGEEND";
/// The image format this build writes and reads.
pub const IMAGE_VERSION: u32 = 1;
/// Bytes before the JSON metadata.
const PREAMBLE: usize = 24;
/// Bytes of the trailer.
const TRAILER: usize = 24;
/// Largest metadata this reader accepts.
pub const MAX_META: u64 = 16 << 20;
/// Most slots a ring can have (fabric's `MAX_SLOT_COUNT`).
const MAX_SLOTS: u64 = forge_fabric::layout::MAX_SLOT_COUNT as u64;

/// `checks` bit: the slot word changed while it was copied.
pub const CHECK_CHANGED: u8 = 1;
/// `checks` bit: the producer may have been rewriting the slot.
pub const CHECK_OVERWRITABLE: u8 = 2;
/// `checks` bit: `changed || overwritable`: the bytes cannot be trusted.
pub const CHECK_TORN: u8 = 4;
/// `checks` bit: the stamp named a ring position (`position` is valid).
pub const CHECK_HAS_POSITION: u8 = 8;

/// When, where and by what an image was taken.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ImageMeta {
    /// Wall clock when taken, ns since the Unix epoch.
    pub taken_unix_ns: u64,
    /// CLOCK_MONOTONIC when taken (the clock of heartbeats and frames).
    pub taken_mono_ns: u64,
    /// Host name.
    pub host: String,
    /// The program that wrote it (`forge-top 0.1.0`).
    pub writer: String,
}

/// A slot's state in words: can its bytes be trusted?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotVerdict {
    /// Never written in the session.
    Free,
    /// The frame at `position`, copied whole.
    Valid,
    /// The slot word changed during the copy: the bytes are a mix.
    Torn,
    /// Released by the consumer, and the producer was close enough to be
    /// rewriting it: the bytes may be part of the next lap's frame.
    Overwritten,
}

impl SlotVerdict {
    /// Of a slot copy.
    pub fn of(c: &SlotCopy) -> Self {
        if c.changed {
            SlotVerdict::Torn
        } else if c.overwritable {
            SlotVerdict::Overwritten
        } else if c.position.is_none() {
            SlotVerdict::Free
        } else {
            SlotVerdict::Valid
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            SlotVerdict::Free => "free",
            SlotVerdict::Valid => "valid",
            SlotVerdict::Torn => "torn",
            SlotVerdict::Overwritten => "overwritten",
        }
    }
}

/// A ring at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingImage {
    /// When, where, by what.
    pub meta: ImageMeta,
    /// Every header field, as the observer copied them.
    pub snapshot: Snapshot,
    /// Could the producer's and the consumer's holder be proven, then?
    pub holders: [HolderCheck; 2],
    /// Every slot, index 0 first, as copied and validated.
    pub slots: Vec<SlotCopy>,
}

/// Why bytes are not a ring image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not an image (another kind of file).
    #[error("not a Forge ring image: expected the magic \"FORGEIMG\", found {found}")]
    NotImage {
        /// What the bytes start with.
        found: String,
    },
    /// An image of another format version.
    #[error("ring image format version {found}; this build reads version {IMAGE_VERSION}")]
    Version {
        /// The file's version.
        found: u32,
    },
    /// The file stops short.
    #[error(
        "truncated ring image: {what} needs {needed} bytes at offset {offset}, the file has {len}"
    )]
    Truncated {
        /// The part that does not fit.
        what: String,
        /// Its offset.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// The file's size.
        len: u64,
    },
    /// A field that cannot be true.
    #[error("corrupt ring image: {0}")]
    Corrupt(String),
    /// The image could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
}

impl RingImage {
    /// Takes an image of the ring `observer` is attached to: the header,
    /// whether each role's holder can be proven, and every slot, copied and
    /// validated. `writer` names the program (`forge-top 0.1.0`).
    pub fn capture(observer: &Observer, writer: &str) -> Result<RingImage, ObserveError> {
        let taken_unix_ns = forge_fabric::clock::unix_ns();
        let snapshot = observer.snapshot()?;
        let holders = [
            observer.verify_holder(Role::Producer),
            observer.verify_holder(Role::Consumer),
        ];
        let slots = observer.read_slots(0..snapshot.slot_count, PAYLOAD_CAPACITY)?;
        Ok(RingImage {
            meta: ImageMeta {
                taken_unix_ns,
                taken_mono_ns: snapshot.taken_mono_ns,
                host: crate::identity::host_name(),
                writer: writer.to_owned(),
            },
            snapshot,
            holders,
            slots,
        })
    }

    /// The image's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let meta = serde_json::to_vec(&json::Meta::of(self)).expect("image metadata serializes");
        let mut out = Vec::with_capacity(PREAMBLE + meta.len() + self.slots.len() * 256);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&IMAGE_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        out.extend_from_slice(&meta);
        pad8(&mut out);
        for s in &self.slots {
            let copied = s.bytes.len().min(PAYLOAD_CAPACITY);
            let checks = (s.changed as u8 * CHECK_CHANGED)
                | (s.overwritable as u8 * CHECK_OVERWRITABLE)
                | (s.torn as u8 * CHECK_TORN)
                | (s.position.is_some() as u8 * CHECK_HAS_POSITION);
            out.extend_from_slice(&s.index.to_le_bytes());
            out.push(state_code(s.state));
            out.push(checks);
            out.extend_from_slice(&s.flags.to_le_bytes());
            out.extend_from_slice(&s.len.to_le_bytes());
            out.extend_from_slice(&(copied as u16).to_le_bytes());
            out.extend_from_slice(&s.stamp.to_le_bytes());
            out.extend_from_slice(&s.position.unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&s.bytes[..copied]);
            pad8(&mut out);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(END_MAGIC);
        out.extend_from_slice(&(self.slots.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out
    }

    /// Writes the image to `path` as `out` says (an existing file is
    /// refused unless it replaces; a link is never followed), through a
    /// temporary file beside it, so a crash never leaves half an image
    /// under the name.
    pub fn save(&self, path: &Path, out: &Output) -> Result<(), ImageError> {
        Ok(out.write(path, &self.to_bytes())?)
    }

    /// Reads an image file.
    pub fn load(path: &Path) -> Result<RingImage, ImageError> {
        let bytes = std::fs::read(path).map_err(|source| ImageError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Parses an image, checking every length and field against the bytes
    /// it has. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<RingImage, ImageError> {
        let len = bytes.len() as u64;
        let mut r = Cursor { bytes, at: 0 };
        let magic = r.take(8, "the magic")?;
        if magic != MAGIC {
            return Err(ImageError::NotImage {
                found: format!("{:02x?}", &magic[..magic.len().min(8)]),
            });
        }
        let version = r.u32("the version")?;
        if version != IMAGE_VERSION {
            return Err(ImageError::Version { found: version });
        }
        let flags = r.u32("the flags")?;
        if flags != 0 {
            return Err(ImageError::Corrupt(format!(
                "flags are {flags:#x}, expected 0 (version 1 defines none)"
            )));
        }
        let meta_len = r.u64("the metadata length")?;
        if meta_len > MAX_META {
            return Err(ImageError::Corrupt(format!(
                "metadata of {meta_len} bytes, at most {MAX_META} expected"
            )));
        }
        // The trailer first: a cut file is named as such, not as a bad field.
        if len < TRAILER as u64 + PREAMBLE as u64 + meta_len {
            return Err(ImageError::Truncated {
                what: "the metadata and the trailer".into(),
                offset: PREAMBLE as u64,
                needed: meta_len + TRAILER as u64,
                len,
            });
        }
        let body = &bytes[..bytes.len() - TRAILER];
        let trailer = &bytes[bytes.len() - TRAILER..];
        if &trailer[..8] != END_MAGIC {
            return Err(ImageError::Truncated {
                what: "the trailer (\"FORGEEND\")".into(),
                offset: len - TRAILER as u64,
                needed: TRAILER as u64,
                len,
            });
        }
        let mut t = Cursor {
            bytes: trailer,
            at: 8,
        };
        let slot_records = t.u64("the slot count")?;
        let crc = t.u32("the checksum")?;
        let reserved = t.u32("the trailer's reserved word")?;
        if reserved != 0 {
            return Err(ImageError::Corrupt(format!(
                "the trailer's reserved word is {reserved:#x}, expected 0"
            )));
        }
        let found = crc32fast::hash(body);
        if found != crc {
            return Err(ImageError::Corrupt(format!(
                "checksum mismatch: the trailer says {crc:#010x}, the bytes hash to {found:#010x}"
            )));
        }
        let meta: json::Meta = serde_json::from_slice(r.take(meta_len as usize, "the metadata")?)
            .map_err(|e| {
            ImageError::Corrupt(format!("metadata is not the expected JSON: {e}"))
        })?;
        r.align8();
        let (meta, snapshot, holders) = meta.into_parts()?;
        if slot_records != u64::from(snapshot.slot_count) || slot_records > MAX_SLOTS {
            return Err(ImageError::Corrupt(format!(
                "{slot_records} slot records for a ring of {} slots",
                snapshot.slot_count
            )));
        }
        let mut r = Cursor {
            bytes: body,
            at: r.at,
        };
        let mut slots = Vec::with_capacity(slot_records as usize);
        for i in 0..slot_records {
            let what = |f: &str| format!("slot {i}'s {f}");
            let index = r.u32(&what("index"))?;
            let state = r.u8(&what("state"))?;
            let checks = r.u8(&what("checks"))?;
            let flags = r.u16(&what("flags"))?;
            let slot_len = r.u16(&what("length"))?;
            let copied = r.u16(&what("copied length"))?;
            let stamp = r.u32(&what("stamp"))?;
            let position = r.u64(&what("position"))?;
            if u64::from(index) != i {
                return Err(ImageError::Corrupt(format!(
                    "slot record {i} is for slot {index}"
                )));
            }
            if usize::from(copied) > PAYLOAD_CAPACITY.min(usize::from(slot_len)) {
                return Err(ImageError::Corrupt(format!(
                    "slot {i} stores {copied} bytes of a {slot_len}-byte frame (a slot holds {PAYLOAD_CAPACITY})"
                )));
            }
            if checks & !0x0f != 0 {
                return Err(ImageError::Corrupt(format!(
                    "slot {i} has unknown check bits {checks:#04x}"
                )));
            }
            let state = state_from(state).ok_or_else(|| {
                ImageError::Corrupt(format!(
                    "slot {i} state {state}: expected 0 pending, 1 consumed or 2 free"
                ))
            })?;
            let bytes = r.take(usize::from(copied), &what("payload"))?.to_vec();
            r.align8();
            slots.push(SlotCopy {
                index,
                position: (checks & CHECK_HAS_POSITION != 0).then_some(position),
                state,
                len: slot_len,
                flags,
                stamp,
                bytes,
                changed: checks & CHECK_CHANGED != 0,
                overwritable: checks & CHECK_OVERWRITABLE != 0,
                torn: checks & CHECK_TORN != 0,
            });
        }
        if r.at != body.len() {
            return Err(ImageError::Corrupt(format!(
                "{} bytes between the last slot and the trailer, expected none",
                body.len() - r.at
            )));
        }
        Ok(RingImage {
            meta,
            snapshot,
            holders,
            slots,
        })
    }
}

fn pad8(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(8), 0);
}

fn state_code(s: SlotState) -> u8 {
    match s {
        SlotState::Pending => 0,
        SlotState::Consumed => 1,
        SlotState::Free => 2,
    }
}

fn state_from(code: u8) -> Option<SlotState> {
    match code {
        0 => Some(SlotState::Pending),
        1 => Some(SlotState::Consumed),
        2 => Some(SlotState::Free),
        _ => None,
    }
}

/// Reads fields off a byte slice, naming what did not fit.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ImageError> {
        match self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
        {
            Some(end) => {
                let out = &self.bytes[self.at..end];
                self.at = end;
                Ok(out)
            }
            None => Err(ImageError::Truncated {
                what: what.to_owned(),
                offset: self.at as u64,
                needed: n as u64,
                len: self.bytes.len() as u64,
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ImageError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8, ImageError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ImageError> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32, ImageError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64, ImageError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn align8(&mut self) {
        self.at = self.at.next_multiple_of(8).min(self.bytes.len());
    }
}

/// The metadata's JSON shape: fabric's types mirrored field by field, so
/// the file format does not change when fabric's Rust types do.
mod json {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    pub(super) struct Meta {
        image_format: u32,
        #[serde(flatten)]
        meta: ImageMeta,
        snapshot: Snap,
        holders: [Holder; 2],
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Snap {
        name: String,
        file_size: u64,
        magic: u64,
        layout_version: u32,
        header_size: u32,
        slot_size: u32,
        slot_count: u32,
        segment_size: u64,
        payload_capacity: u32,
        session_id: u64,
        state: u32,
        successor_session: u64,
        init_pid: u32,
        created_unix_ns: u64,
        created_mono_ns: u64,
        #[serde(default)]
        identity_flags: u32,
        /// The identity line's own slot count, when it differs from the
        /// validated one (a damaged header).
        #[serde(default)]
        identity_slot_count: Option<u32>,
        producer: Line,
        consumer: Line,
        #[serde(default)]
        pace: Pace,
        latency: Latency,
        head: u64,
        tail: u64,
        #[serde(default)]
        newest: Option<u64>,
        stuck: Option<Damage>,
        taken_mono_ns: u64,
    }

    #[derive(Default, serde::Serialize, serde::Deserialize)]
    struct Pace {
        target_rate: u64,
        burst: u64,
        bursts: u64,
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Line {
        index: u64,
        sleeping: bool,
        wait_strategy: u32,
        pid: u32,
        core: Option<u32>,
        session: u64,
        heartbeat_ns: u64,
        messages: u64,
        bytes: u64,
        backpressure: u64,
        role_state: u32,
        batch: u32,
        started_mono_ns: u64,
        pidns: u64,
        start_ticks: u64,
        uid: u32,
        flags: u32,
        program: String,
        lock_held: Option<bool>,
        #[serde(default)]
        relay_session: u64,
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Latency {
        count: u64,
        sum_ns: u64,
        max_ns: u64,
        overflow: u64,
        buckets: Vec<u64>,
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Damage {
        Identity {
            what: String,
        },
        Stamp {
            position: u64,
            slot: u64,
            expected: u32,
            found: u32,
            head: u64,
        },
        Indices {
            head: u64,
            tail: u64,
            slots: u64,
            what: String,
        },
    }

    // Named as fabric's HolderCheck variants, which are the file's words.
    #[allow(clippy::enum_variant_names)]
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(tag = "check", rename_all = "snake_case")]
    enum Holder {
        NotHeld,
        Verified { pid: u32 },
        OtherNamespace { pid: u32 },
        Unnamed,
        NotTheHolder { pid: u32, why: String },
        Unknown,
    }

    impl Line {
        fn of(s: &SideSnapshot) -> Self {
            Line {
                index: s.index,
                sleeping: s.sleeping,
                wait_strategy: s.wait_strategy.code(),
                pid: s.pid,
                core: s.core,
                session: s.session,
                heartbeat_ns: s.heartbeat_ns,
                messages: s.messages,
                bytes: s.bytes,
                backpressure: s.backpressure,
                role_state: s.role_state.code(),
                batch: s.batch,
                started_mono_ns: s.started_mono_ns,
                pidns: s.pidns,
                start_ticks: s.start_ticks,
                uid: s.uid,
                flags: s.flags,
                program: s.program.clone(),
                lock_held: s.lock_held,
                relay_session: s.relay_session,
            }
        }

        fn into_side(self) -> SideSnapshot {
            SideSnapshot {
                index: self.index,
                sleeping: self.sleeping,
                wait_strategy: Coded::from_code(self.wait_strategy),
                pid: self.pid,
                core: self.core,
                session: self.session,
                heartbeat_ns: self.heartbeat_ns,
                messages: self.messages,
                bytes: self.bytes,
                backpressure: self.backpressure,
                role_state: Coded::from_code(self.role_state),
                batch: self.batch,
                started_mono_ns: self.started_mono_ns,
                pidns: self.pidns,
                start_ticks: self.start_ticks,
                uid: self.uid,
                flags: self.flags,
                program: self.program,
                lock_held: self.lock_held,
                relay_session: self.relay_session,
            }
        }
    }

    impl Damage {
        fn of(c: &Corruption) -> Self {
            match c.clone() {
                Corruption::Identity { what } => Damage::Identity { what },
                Corruption::Stamp {
                    position,
                    slot,
                    expected,
                    found,
                    head,
                } => Damage::Stamp {
                    position,
                    slot,
                    expected,
                    found,
                    head,
                },
                Corruption::Indices {
                    head,
                    tail,
                    slots,
                    what,
                } => Damage::Indices {
                    head,
                    tail,
                    slots,
                    what,
                },
            }
        }

        fn into_corruption(self) -> Corruption {
            match self {
                Damage::Identity { what } => Corruption::Identity { what },
                Damage::Stamp {
                    position,
                    slot,
                    expected,
                    found,
                    head,
                } => Corruption::Stamp {
                    position,
                    slot,
                    expected,
                    found,
                    head,
                },
                Damage::Indices {
                    head,
                    tail,
                    slots,
                    what,
                } => Corruption::Indices {
                    head,
                    tail,
                    slots,
                    what,
                },
            }
        }
    }

    impl Holder {
        fn of(h: &HolderCheck) -> Self {
            match h.clone() {
                HolderCheck::NotHeld => Holder::NotHeld,
                HolderCheck::Verified { pid } => Holder::Verified { pid },
                HolderCheck::OtherNamespace { pid } => Holder::OtherNamespace { pid },
                HolderCheck::Unnamed => Holder::Unnamed,
                HolderCheck::NotTheHolder { pid, why } => Holder::NotTheHolder { pid, why },
                HolderCheck::Unknown => Holder::Unknown,
            }
        }

        fn into_check(self) -> HolderCheck {
            match self {
                Holder::NotHeld => HolderCheck::NotHeld,
                Holder::Verified { pid } => HolderCheck::Verified { pid },
                Holder::OtherNamespace { pid } => HolderCheck::OtherNamespace { pid },
                Holder::Unnamed => HolderCheck::Unnamed,
                Holder::NotTheHolder { pid, why } => HolderCheck::NotTheHolder { pid, why },
                Holder::Unknown => HolderCheck::Unknown,
            }
        }
    }

    impl Meta {
        pub(super) fn of(img: &RingImage) -> Self {
            let s = &img.snapshot;
            let (id, l) = (&s.identity, &s.latency);
            Meta {
                image_format: IMAGE_VERSION,
                meta: img.meta.clone(),
                snapshot: Snap {
                    name: s.name.clone(),
                    file_size: s.file_size,
                    magic: id.magic,
                    layout_version: id.layout_version,
                    header_size: id.header_size,
                    slot_size: id.slot_size,
                    slot_count: s.slot_count,
                    segment_size: id.segment_size,
                    payload_capacity: id.payload_capacity,
                    session_id: id.session_id,
                    state: id.state.code(),
                    successor_session: id.successor_session,
                    init_pid: id.init_pid,
                    created_unix_ns: id.created_unix_ns,
                    created_mono_ns: id.created_mono_ns,
                    identity_flags: id.flags,
                    identity_slot_count: (id.slot_count != s.slot_count).then_some(id.slot_count),
                    producer: Line::of(&s.producer),
                    consumer: Line::of(&s.consumer),
                    pace: Pace {
                        target_rate: s.pace.target_rate,
                        burst: s.pace.burst,
                        bursts: s.pace.bursts,
                    },
                    latency: Latency {
                        count: l.count,
                        sum_ns: l.sum_ns,
                        max_ns: l.max_ns,
                        overflow: l.overflow,
                        buckets: l.buckets.to_vec(),
                    },
                    head: s.head,
                    tail: s.tail,
                    newest: s.newest,
                    stuck: s.damaged.as_ref().map(Damage::of),
                    taken_mono_ns: s.taken_mono_ns,
                },
                holders: [Holder::of(&img.holders[0]), Holder::of(&img.holders[1])],
            }
        }

        #[allow(clippy::type_complexity)]
        pub(super) fn into_parts(
            self,
        ) -> Result<(ImageMeta, Snapshot, [HolderCheck; 2]), ImageError> {
            if self.image_format != IMAGE_VERSION {
                return Err(ImageError::Corrupt(format!(
                    "metadata says image_format {}, the preamble {IMAGE_VERSION}",
                    self.image_format
                )));
            }
            let s = self.snapshot;
            if s.latency.buckets.len() != forge_fabric::layout::HIST_BUCKETS {
                return Err(ImageError::Corrupt(format!(
                    "latency histogram has {} buckets, expected {}",
                    s.latency.buckets.len(),
                    forge_fabric::layout::HIST_BUCKETS
                )));
            }
            let mut buckets = Box::new([0u64; forge_fabric::layout::HIST_BUCKETS]);
            buckets.copy_from_slice(&s.latency.buckets);
            let snapshot = Snapshot {
                name: s.name,
                file_size: s.file_size,
                identity: IdentitySnapshot {
                    magic: s.magic,
                    layout_version: s.layout_version,
                    header_size: s.header_size,
                    slot_size: s.slot_size,
                    slot_count: s.identity_slot_count.unwrap_or(s.slot_count),
                    segment_size: s.segment_size,
                    session_id: s.session_id,
                    state: Coded::<SegmentState>::from_code(s.state),
                    init_pid: s.init_pid,
                    successor_session: s.successor_session,
                    created_unix_ns: s.created_unix_ns,
                    created_mono_ns: s.created_mono_ns,
                    payload_capacity: s.payload_capacity,
                    flags: s.identity_flags,
                },
                slot_count: s.slot_count,
                producer: s.producer.into_side(),
                consumer: s.consumer.into_side(),
                pace: PaceSnapshot {
                    target_rate: s.pace.target_rate,
                    burst: s.pace.burst,
                    bursts: s.pace.bursts,
                },
                latency: Histogram {
                    count: s.latency.count,
                    sum_ns: s.latency.sum_ns,
                    max_ns: s.latency.max_ns,
                    overflow: s.latency.overflow,
                    buckets,
                },
                head: s.head,
                tail: s.tail,
                damaged: s.stuck.map(Damage::into_corruption),
                newest: s.newest,
                taken_mono_ns: s.taken_mono_ns,
            };
            let [p, c] = self.holders;
            Ok((self.meta, snapshot, [p.into_check(), c.into_check()]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> RingImage {
        let slots = (0..4u32)
            .map(|i| SlotCopy {
                index: i,
                position: (i < 3).then_some(u64::from(i) + 4),
                state: if i < 3 {
                    SlotState::Pending
                } else {
                    SlotState::Free
                },
                len: if i < 3 { 5 + i as u16 } else { 0 },
                flags: i as u16 & 1,
                stamp: 2,
                bytes: if i < 3 {
                    vec![i as u8; 5 + i as usize]
                } else {
                    vec![]
                },
                changed: i == 1,
                overwritable: i == 2,
                torn: i == 1 || i == 2,
            })
            .collect();
        RingImage {
            meta: ImageMeta {
                taken_unix_ns: 1,
                taken_mono_ns: 2,
                host: "h".into(),
                writer: "test".into(),
            },
            snapshot: Snapshot {
                name: "/forge_img".into(),
                slot_count: 4,
                head: 7,
                tail: 4,
                latency: Histogram::default(),
                pace: PaceSnapshot {
                    target_rate: 1_000_000,
                    burst: 100,
                    bursts: 2,
                },
                newest: Some(6),
                damaged: Some(Corruption::Stamp {
                    position: 4,
                    slot: 0,
                    expected: 2,
                    found: 9,
                    head: 7,
                }),
                ..Default::default()
            },
            holders: [
                HolderCheck::Verified { pid: 10 },
                HolderCheck::NotTheHolder {
                    pid: 11,
                    why: "it exited".into(),
                },
            ],
            slots,
        }
    }

    #[test]
    fn an_image_round_trips_exactly() {
        let img = image();
        let back = RingImage::from_bytes(&img.to_bytes()).unwrap();
        assert_eq!(back, img);
        let verdicts: Vec<_> = back.slots.iter().map(SlotVerdict::of).collect();
        assert_eq!(
            verdicts,
            [
                SlotVerdict::Valid,
                SlotVerdict::Torn,
                SlotVerdict::Overwritten,
                SlotVerdict::Free
            ]
        );
    }

    #[test]
    fn every_cut_of_an_image_is_refused_as_truncated_or_corrupt() {
        let bytes = image().to_bytes();
        for n in 0..bytes.len() {
            match RingImage::from_bytes(&bytes[..n]) {
                Err(ImageError::Truncated { .. } | ImageError::NotImage { .. }) => {}
                Err(ImageError::Corrupt(_)) if n > PREAMBLE => {}
                other => panic!("cut at {n}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_is_caught() {
        let bytes = image().to_bytes();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(
                RingImage::from_bytes(&b).is_err(),
                "bit flip at byte {i} went unnoticed"
            );
        }
    }

    #[test]
    fn errors_name_what_was_expected_and_found() {
        let e = RingImage::from_bytes(b"\x89MCAP0\r\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected the magic \"FORGEIMG\""), "{e}");
        let mut b = image().to_bytes();
        b[8] = 9;
        let e = RingImage::from_bytes(&b).unwrap_err().to_string();
        assert!(
            e.contains("version 9") && e.contains("reads version 1"),
            "{e}"
        );
        let b = image().to_bytes();
        let e = RingImage::from_bytes(&b[..b.len() - 3])
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
    }
}
