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

mod cursor;
mod format;
mod json;

use std::path::Path;

use forge_cli::output::Output;
use forge_fabric::layout::{payload_capacity_allowed, MAX_SLOT_COUNT, MIN_SLOT_COUNT};
use forge_fabric::observe::{HolderCheck, ObserveError};
use forge_fabric::{Observer, Role, SlotCopy, SlotState, Snapshot, PAYLOAD_CAPACITY};

use self::cursor::Cursor;
use self::format::{PREAMBLE, SLOT_RECORD, TRAILER};

pub use self::format::{
    ImageError, ImageMeta, CHECK_CHANGED, CHECK_HAS_POSITION, CHECK_OVERWRITABLE, CHECK_TORN,
    END_MAGIC, IMAGE_VERSION, MAGIC, MAX_META,
};

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
    /// The slot word claims more bytes than a slot of the ring holds: it
    /// was damaged (a bad writer), whatever the bytes say.
    Damaged,
}

impl SlotVerdict {
    /// Of a slot copy, its length not checked against the ring (see
    /// [`RingImage::verdict`], which does).
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
            SlotVerdict::Damaged => "damaged",
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

impl RingImage {
    /// The payload capacity of the ring's slots: the header's, unless the
    /// header no longer describes the mapping (then the largest there is,
    /// which is all a copy could hold).
    pub fn payload_capacity(&self) -> usize {
        capacity_of(&self.snapshot)
    }

    /// A slot's verdict: [`SlotVerdict::Damaged`] when its word claims more
    /// than [`payload_capacity`](Self::payload_capacity), else
    /// [`SlotVerdict::of`].
    pub fn verdict(&self, c: &SlotCopy) -> SlotVerdict {
        if usize::from(c.len) > self.payload_capacity() {
            SlotVerdict::Damaged
        } else {
            SlotVerdict::of(c)
        }
    }

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
        let meta = serde_json::to_vec(&json::Meta::of(&self.meta, &self.snapshot, &self.holders))
            .expect("image metadata serializes");
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
        let slot_count = snapshot.slot_count;
        if !slot_count.is_power_of_two() || !(MIN_SLOT_COUNT..=MAX_SLOT_COUNT).contains(&slot_count)
        {
            return Err(ImageError::Corrupt(format!(
                "snapshot.slot_count is {slot_count}, expected a power of two from \
                 {MIN_SLOT_COUNT} to {MAX_SLOT_COUNT}"
            )));
        }
        if slot_records != u64::from(slot_count) {
            return Err(ImageError::Corrupt(format!(
                "the trailer counts {slot_records} slot records for a ring of {slot_count} slots"
            )));
        }
        let mut r = Cursor {
            bytes: body,
            at: r.at,
        };
        // Every record takes at least its fixed part: the count is checked
        // against the bytes there are before anything is allocated for it.
        let room = (body.len() - r.at) as u64;
        if slot_records.saturating_mul(SLOT_RECORD as u64) > room {
            return Err(ImageError::Truncated {
                what: format!("{slot_records} slot records"),
                offset: r.at as u64,
                needed: slot_records * SLOT_RECORD as u64,
                len,
            });
        }
        let capacity = capacity_of(&snapshot);
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
            if usize::from(copied) > capacity.min(usize::from(slot_len)) {
                return Err(ImageError::Corrupt(format!(
                    "slot {i} stores {copied} bytes of a {slot_len}-byte frame (a slot of this \
                     ring holds {capacity})"
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

/// The payload capacity of a snapshot's slots; see
/// [`RingImage::payload_capacity`].
fn capacity_of(snapshot: &Snapshot) -> usize {
    let id = &snapshot.identity;
    let sound = !snapshot
        .problems()
        .iter()
        .any(forge_fabric::observe::Problem::breaks_identity);
    let capacity = id.payload_capacity as usize;
    if sound && payload_capacity_allowed(id.layout_version, capacity) {
        capacity
    } else {
        PAYLOAD_CAPACITY
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

#[cfg(test)]
mod tests {
    use super::*;
    use forge_fabric::hist::Histogram;
    use forge_fabric::observe::PaceSnapshot;
    use forge_fabric::Corruption;

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
