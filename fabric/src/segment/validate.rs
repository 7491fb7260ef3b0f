//! Is this a Forge segment, and a sound one? Names, sizes and the identity
//! line, checked the same way for daemons, observers, fuzzers and forge-top.
//!
//! The header is read only with atomic loads: it may be hostile or changing.

use std::time::{Duration, Instant};

use crate::error::{Corruption, HeaderProblem, SegmentError, SessionError};
use crate::layout::*;
use crate::sync::Ordering;
use crate::vocab::{Coded, SegmentState};

/// The longest segment name: its role-lock object's name (the name and
/// [`ROLE_LOCKS_SUFFIX`](super::locks::ROLE_LOCKS_SUFFIX)) must fit the
/// 255 bytes of a file name in `/dev/shm`.
pub const MAX_NAME_LEN: usize = 256 - super::locks::ROLE_LOCKS_SUFFIX.len();

/// Validates a segment name: one leading `/`, no other `/`, 2 to
/// [`MAX_NAME_LEN`] (250) bytes, no NUL, no control character, and not
/// ending with [`ROLE_LOCKS_SUFFIX`](super::locks::ROLE_LOCKS_SUFFIX), which
/// names role-lock objects.
pub fn validate_name(name: &str) -> Result<(), SegmentError> {
    let bad = |reason| {
        Err(SegmentError::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    if !name.starts_with('/') {
        return bad("it must start with '/', like /forge_shm");
    }
    if name.len() < 2 {
        return bad("it needs at least one character after '/'");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("it is longer than 250 bytes (its role-lock object adds .roles to it)");
    }
    if name.ends_with(super::locks::ROLE_LOCKS_SUFFIX) {
        return bad("it ends with .roles, which names the role-lock object of another segment");
    }
    if name[1..].contains('/') {
        return bad("it may contain no '/' after the first");
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return bad(
            "it contains a control character (a name is printed in messages and on screens)",
        );
    }
    if name == "/." || name == "/.." {
        return bad("'.' and '..' are not object names");
    }
    Ok(())
}

pub(crate) fn check_slot_count(n: u32) -> Result<(), SegmentError> {
    if n.is_power_of_two() && (MIN_SLOT_COUNT..=MAX_SLOT_COUNT).contains(&n) {
        Ok(())
    } else {
        Err(SegmentError::BadSlotCount {
            found: n.into(),
            min: MIN_SLOT_COUNT,
            max: MAX_SLOT_COUNT,
        })
    }
}

pub(crate) fn check_payload_capacity(bytes: usize) -> Result<(), SegmentError> {
    if is_payload_capacity(bytes) {
        Ok(())
    } else {
        Err(SegmentError::BadPayloadCapacity {
            found: bytes as u64,
            min: MIN_PAYLOAD_CAPACITY,
            max: PAYLOAD_CAPACITY,
        })
    }
}

pub(crate) fn check_header_fits(name: &str, file_size: u64) -> Result<(), SegmentError> {
    if file_size == 0 {
        // forge-init has created the object but not yet sized it.
        return Err(SegmentError::Initializing {
            name: name.to_owned(),
            waited_ms: 0,
            init_pid: 0,
        });
    }
    if file_size < HEADER_SIZE as u64 {
        return Err(SegmentError::TooShort {
            name: name.to_owned(),
            found: file_size,
            expected: HEADER_SIZE as u64,
        });
    }
    Ok(())
}

/// Runs `open` until it stops saying the segment is initializing, or `wait`
/// is over (then the error says how long it waited).
pub(crate) fn retry_while_initializing<T>(
    name: &str,
    wait: Duration,
    mut open: impl FnMut() -> Result<T, SegmentError>,
) -> Result<T, SegmentError> {
    let start = Instant::now();
    loop {
        match open() {
            Err(SegmentError::Initializing { init_pid, .. }) if start.elapsed() >= wait => {
                return Err(SegmentError::Initializing {
                    name: name.to_owned(),
                    waited_ms: start.elapsed().as_millis() as u64,
                    init_pid,
                })
            }
            Err(SegmentError::Initializing { .. }) => std::thread::sleep(Duration::from_millis(1)),
            other => return other,
        }
    }
}

/// The identity line, copied out with atomic loads (`state` first, with
/// Acquire: a reader that sees live sees every field forge-init wrote).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct IdentitySnapshot {
    /// `magic`.
    pub magic: u64,
    /// `layout_version`.
    pub layout_version: u32,
    /// `header_size`.
    pub header_size: u32,
    /// `slot_size`.
    pub slot_size: u32,
    /// `slot_count`.
    pub slot_count: u32,
    /// `segment_size`.
    pub segment_size: u64,
    /// `session_id`.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::vocab::serialize_session")
    )]
    pub session_id: u64,
    /// `state`.
    pub state: Coded<SegmentState>,
    /// `init_pid`.
    pub init_pid: u32,
    /// `successor_session`.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::vocab::serialize_session")
    )]
    pub successor_session: u64,
    /// `created_unix_ns`.
    pub created_unix_ns: u64,
    /// `created_mono_ns`.
    pub created_mono_ns: u64,
    /// `payload_capacity`.
    pub payload_capacity: u32,
    /// `flags`.
    pub flags: u32,
}

impl IdentitySnapshot {
    /// Copies the identity line.
    pub(crate) fn read(id: &IdentityLine) -> Self {
        // SYNC: pairs with the Release stores of session_id and state in
        // `Segment::create_exclusive` (and of state when retiring).
        let state = id.state.load(Ordering::Acquire);
        IdentitySnapshot {
            magic: id.magic.load(Ordering::Relaxed),
            layout_version: id.layout_version.load(Ordering::Relaxed),
            header_size: id.header_size.load(Ordering::Relaxed),
            slot_size: id.slot_size.load(Ordering::Relaxed),
            slot_count: id.slot_count.load(Ordering::Relaxed),
            segment_size: id.segment_size.load(Ordering::Relaxed),
            session_id: id.session_id.load(Ordering::Relaxed),
            state: Coded::from_code(state),
            init_pid: id.init_pid.load(Ordering::Relaxed),
            successor_session: id.successor_session.load(Ordering::Relaxed),
            created_unix_ns: id.created_unix_ns.load(Ordering::Relaxed),
            created_mono_ns: id.created_mono_ns.load(Ordering::Relaxed),
            payload_capacity: id.payload_capacity.load(Ordering::Relaxed),
            flags: id.flags.load(Ordering::Relaxed),
        }
    }

    /// Is the magic Forge's and the version one this build reads?
    pub fn is_forge(&self) -> bool {
        self.magic == MAGIC && READABLE_LAYOUT_VERSIONS.contains(&self.layout_version)
    }

    /// The first thing wrong with the geometry, the state or the session of
    /// an identity line whose magic and version are Forge's. The one check
    /// of these fields: opening a segment and forge-top both use it.
    pub fn problem(&self) -> Option<HeaderProblem> {
        if self.header_size as usize != HEADER_SIZE {
            return Some(HeaderProblem::HeaderSize(self.header_size));
        }
        let capacity = self.payload_capacity as usize;
        if !payload_capacity_allowed(self.layout_version, capacity) {
            return Some(HeaderProblem::PayloadCapacity {
                found: self.payload_capacity,
                layout_version: self.layout_version,
            });
        }
        if self.slot_size as usize != slot_size(capacity) {
            return Some(HeaderProblem::SlotSize {
                found: self.slot_size,
                expected: slot_size(capacity) as u32,
            });
        }
        if check_slot_count(self.slot_count).is_err() {
            return Some(HeaderProblem::SlotCount(self.slot_count));
        }
        let expected = segment_size(self.slot_count, capacity) as u64;
        if self.segment_size != expected {
            return Some(HeaderProblem::SegmentSize {
                found: self.segment_size,
                expected,
                slots: self.slot_count,
            });
        }
        match self.state {
            Coded::Unknown(code) => Some(HeaderProblem::UnknownState(code)),
            Coded::Known(SegmentState::Live) if self.session_id == 0 => {
                Some(HeaderProblem::NoSession)
            }
            Coded::Known(_) => None,
        }
    }
}

/// What a valid header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Geometry {
    pub(crate) session: u64,
    pub(crate) slot_count: u32,
    /// Payload bytes per slot: a valid capacity ([`is_payload_capacity`]).
    pub(crate) payload_capacity: usize,
    /// The header's layout version, one of [`READABLE_LAYOUT_VERSIONS`].
    pub(crate) layout_version: u32,
    /// Layout 4: the inode of the role-lock object (never 0); 0 before.
    pub(crate) role_lock_ino: u64,
}

impl Geometry {
    /// Bytes the segment takes.
    pub(crate) fn size(&self) -> usize {
        segment_size(self.slot_count, self.payload_capacity)
    }
}

/// Checks every identity field against the file's real size. `any_state`
/// accepts an initializing or retired segment whose geometry is sound (for
/// retiring it in place).
pub(crate) fn validate(
    name: &str,
    header: &Header,
    file_size: u64,
    any_state: bool,
) -> Result<Geometry, SegmentError> {
    let id = IdentitySnapshot::read(&header.identity);
    let initializing = SegmentError::Initializing {
        name: name.to_owned(),
        waited_ms: 0,
        init_pid: id.init_pid,
    };
    if id.magic == 0 && id.state == SegmentState::Initializing {
        return Err(initializing);
    }
    if id.magic != MAGIC {
        return Err(SegmentError::NotForge {
            name: name.to_owned(),
            found: id.magic,
            expected: MAGIC,
        });
    }
    if !READABLE_LAYOUT_VERSIONS.contains(&id.layout_version) {
        return Err(SegmentError::Version {
            name: name.to_owned(),
            found: id.layout_version,
            expected: LAYOUT_VERSION,
        });
    }
    if !any_state && id.state == SegmentState::Initializing {
        return Err(initializing);
    }
    if let Some(problem) = id.problem() {
        // A retirement in place of a segment with a bad state is still
        // possible when its geometry is sound.
        if !(any_state
            && matches!(
                problem,
                HeaderProblem::UnknownState(_) | HeaderProblem::NoSession
            ))
        {
            return Err(SegmentError::Malformed {
                name: name.to_owned(),
                problem,
            });
        }
    }
    if file_size < id.segment_size {
        return Err(SegmentError::TooShort {
            name: name.to_owned(),
            found: file_size,
            expected: id.segment_size,
        });
    }
    if file_size > id.segment_size {
        return Err(SegmentError::TooLong {
            name: name.to_owned(),
            found: file_size,
            declared: id.segment_size,
        });
    }
    if !any_state && id.state == SegmentState::Retired {
        return Err(SegmentError::Retired {
            name: name.to_owned(),
            session: id.session_id,
            successor: id.successor_session,
        });
    }
    let role_lock_ino = if id.layout_version >= ROLE_LOCKS_LAYOUT_VERSION {
        let ino = header.identity.role_lock_ino.load(Ordering::Relaxed);
        if ino == 0 {
            return Err(SegmentError::Malformed {
                name: name.to_owned(),
                problem: HeaderProblem::NoRoleLocks,
            });
        }
        ino
    } else {
        0
    };
    Ok(Geometry {
        session: id.session_id,
        slot_count: id.slot_count,
        payload_capacity: id.payload_capacity as usize,
        layout_version: id.layout_version,
        role_lock_ino,
    })
}

/// `Ok` while the header still reads as the live segment we attached to
/// (its session and geometry in `ours`). A retirement is the one legitimate
/// change; any other change of the identity line is damage.
pub(crate) fn check_session(header: &Header, ours: &Geometry) -> Result<(), SessionError> {
    let Geometry {
        session: ours,
        slot_count,
        payload_capacity,
        layout_version,
        role_lock_ino,
    } = *ours;
    let id = &header.identity;
    // SYNC: pairs with the Release store of state in `Segment::replace` when
    // it retires this segment: the successor written before it is visible.
    let state = id.state.load(Ordering::Acquire);
    let corrupt = |what: String| Err(SessionError::Corrupt(Corruption::Identity { what }));
    // Older layouts keep reserved bytes there: not theirs to check.
    let lock_ino_found = if layout_version >= ROLE_LOCKS_LAYOUT_VERSION {
        id.role_lock_ino.load(Ordering::Relaxed)
    } else {
        0
    };
    let fields: [(&str, u64, u64); 9] = [
        ("magic", id.magic.load(Ordering::Relaxed), MAGIC),
        (
            "layout_version",
            id.layout_version.load(Ordering::Relaxed).into(),
            layout_version.into(),
        ),
        (
            "header_size",
            id.header_size.load(Ordering::Relaxed).into(),
            HEADER_SIZE as u64,
        ),
        (
            "slot_size",
            id.slot_size.load(Ordering::Relaxed).into(),
            slot_size(payload_capacity) as u64,
        ),
        (
            "slot_count",
            id.slot_count.load(Ordering::Relaxed).into(),
            slot_count.into(),
        ),
        (
            "segment_size",
            id.segment_size.load(Ordering::Relaxed),
            segment_size(slot_count, payload_capacity) as u64,
        ),
        (
            "payload_capacity",
            id.payload_capacity.load(Ordering::Relaxed).into(),
            payload_capacity as u64,
        ),
        ("session_id", id.session_id.load(Ordering::Relaxed), ours),
        ("role_lock_ino", lock_ino_found, role_lock_ino),
    ];
    for (field, found, expected) in fields {
        if found != expected {
            return corrupt(format!("{field} is {found:#x}, expected {expected:#x}"));
        }
    }
    match SegmentState::try_from(state) {
        Ok(SegmentState::Live) => Ok(()),
        Ok(SegmentState::Retired) => Err(SessionError::Retired {
            ours,
            successor: id.successor_session.load(Ordering::Relaxed),
        }),
        _ => corrupt(format!(
            "state is {state}, expected 1 (live) or 2 (retired)"
        )),
    }
}

/// Checks a header given as bytes, as [`crate::Segment::open`] checks a
/// mapped one against a file of `bytes.len()` bytes, without creating
/// anything: for fuzzers, property tests and readers in other languages to
/// compare with. Returns the session, the slot count and the payload
/// capacity of a live segment.
#[doc(hidden)]
pub fn validate_header_bytes(bytes: &[u8]) -> Result<(u64, u32, usize), SegmentError> {
    const NAME: &str = "/header_bytes";
    check_header_fits(NAME, bytes.len() as u64)?;
    // An aligned private copy: the header is read with atomic loads only.
    let mut copy = Box::new(std::mem::MaybeUninit::<Header>::zeroed());
    // SAFETY: `copy` is a Header-sized allocation we own, and bytes holds at
    // least HEADER_SIZE = size_of::<Header>() bytes (checked above).
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            copy.as_mut_ptr().cast::<u8>(),
            std::mem::size_of::<Header>(),
        )
    };
    // SAFETY: every field of Header is an atomic integer or padding, valid
    // for any bytes, and all of them were written above.
    let header = unsafe { copy.assume_init_ref() };
    validate(NAME, header, bytes.len() as u64, false)
        .map(|g| (g.session, g.slot_count, g.payload_capacity))
}
