//! Typed errors. Each message names what was expected and what was found,
//! and none names a command line: the binaries add their own hints by
//! matching variants.

use std::io;

use crate::layout::{
    HEADER_SIZE, MAX_SLOT_COUNT, MIN_PAYLOAD_CAPACITY, MIN_SLOT_COUNT, PAYLOAD_CAPACITY,
};
use crate::vocab::Role;

/// Why a segment could not be created, opened or used.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The name is not of the form `/name` (one leading slash, at most 250 bytes).
    #[error("invalid segment name {name:?}: {reason}")]
    BadName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No shared-memory object has that name.
    #[error("segment {name} does not exist (expected /dev/shm{name})")]
    Missing {
        /// The segment name.
        name: String,
    },
    /// Access was denied by the kernel.
    #[error("permission denied opening segment {name}: {source}")]
    PermissionDenied {
        /// The segment name.
        name: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The name leads to something other than a regular shm object.
    #[error("/dev/shm{name} is {what}, not a shared-memory segment")]
    NotRegular {
        /// The segment name.
        name: String,
        /// What it is instead ("a directory", "a FIFO (named pipe)", …).
        what: &'static str,
    },
    /// The object exists but does not start with the Forge magic.
    #[error("{name} is not a Forge segment: magic is {found:#018x}, expected {expected:#018x}")]
    NotForge {
        /// The segment name.
        name: String,
        /// The magic that was found.
        found: u64,
        /// The Forge magic.
        expected: u64,
    },
    /// A segment of another layout version.
    #[error("{name} has layout version {found}, this build reads layout version {}, or {expected}; rebuild the tools from one tree or re-create the segment", older_layouts())]
    Version {
        /// The segment name.
        name: String,
        /// The version in the header.
        found: u32,
        /// The version this build writes (it also reads the ones in
        /// [`crate::layout::READABLE_LAYOUT_VERSIONS`]).
        expected: u32,
    },
    /// The file is shorter than its header, or than its header declares.
    #[error("{name} is too short: the file has {found} bytes, expected at least {expected}")]
    TooShort {
        /// The segment name.
        name: String,
        /// The file's size.
        found: u64,
        /// The size required.
        expected: u64,
    },
    /// The file is larger than its header declares: something other than
    /// forge-init grew it. Only the header is mapped to find this out.
    #[error("{name} is {found} bytes, but its header declares a segment of {declared} bytes; something other than forge-init resized it")]
    TooLong {
        /// The segment name.
        name: String,
        /// The file's size.
        found: u64,
        /// The size the header declares.
        declared: u64,
    },
    /// The header's geometry, state or session is inconsistent.
    #[error("{name} has a malformed header: {problem}")]
    Malformed {
        /// The segment name.
        name: String,
        /// Which field is wrong, with the values found and expected.
        problem: HeaderProblem,
    },
    /// The object just made exclusively was not ours and empty a moment
    /// later: another process swapped it.
    #[error("the object just created at {name} is owned by uid {uid} with {size} bytes; expected ours and empty (another process swapped it)")]
    Swapped {
        /// The segment name.
        name: String,
        /// Its owner.
        uid: u32,
        /// Its size.
        size: u64,
    },
    /// [`crate::Segment::replace`] found something at the name that it
    /// replaces only with [`crate::LiveHolders::Retire`].
    #[error("{name} already holds something other than a usable segment")]
    Occupied {
        /// The segment name.
        name: String,
        /// Why what is there cannot be used.
        #[source]
        source: Box<SegmentError>,
    },
    /// A segment still initializing while [`crate::Segment::replace`]
    /// holds the initializers' lock: the initializer that was writing it
    /// died.
    #[error("{name} is a partial segment, left by a forge-init (pid {init_pid}) that died while creating it")]
    StaleInit {
        /// The segment name.
        name: String,
        /// The pid that was initializing it, 0 if not yet written.
        init_pid: u32,
    },
    /// Something that is not a segment is in the way and
    /// [`crate::Segment::replace`] will not remove it (a directory that is
    /// not empty).
    #[error("/dev/shm{name} is {what}; Forge does not delete it")]
    InTheWay {
        /// The segment name.
        name: String,
        /// What is there.
        what: &'static str,
    },
    /// The segment stayed in the initializing state past the wait.
    #[error("{name} is still initializing after {waited_ms} ms (forge-init pid {init_pid}); is forge-init stuck or dead?")]
    Initializing {
        /// The segment name.
        name: String,
        /// How long we waited.
        waited_ms: u64,
        /// The pid that is initializing it, 0 if not yet written.
        init_pid: u32,
    },
    /// The segment was retired: a newer session replaced it.
    #[error(
        "{name}: session {session:#018x} was retired and replaced by session {successor:#018x}"
    )]
    Retired {
        /// The segment name.
        name: String,
        /// The retired session.
        session: u64,
        /// The session that replaced it.
        successor: u64,
    },
    /// A live process holds a role and re-initialization was not forced.
    #[error(
        "{name} is in use: a live process holds its {role} role (pid {pid} as its header says)"
    )]
    Active {
        /// The segment name.
        name: String,
        /// The role a live process holds.
        role: Role,
        /// The live holder's pid.
        pid: u32,
    },
    /// [`crate::Segment::create`] found the name taken: it never replaces
    /// what is there.
    #[error(
        "{name} already exists; creating a segment never replaces one (open it, or replace it)"
    )]
    Exists {
        /// The segment name.
        name: String,
    },
    /// An existing segment's slots are not the ones asked for
    /// ([`crate::Segment::open_or_create`]).
    #[error("{name} has {slot_count} slots of {payload_capacity} bytes, and {wanted_slot_count} slots of {wanted_payload_capacity} bytes were asked for")]
    Mismatch {
        /// The segment name.
        name: String,
        /// Its slot count.
        slot_count: u32,
        /// Its payload capacity.
        payload_capacity: usize,
        /// The slot count asked for.
        wanted_slot_count: u32,
        /// The payload capacity asked for.
        wanted_payload_capacity: usize,
    },
    /// The segment's role-lock object (layout 4) cannot be trusted with its
    /// roles, or cannot be opened for writing by this user.
    #[error("{name}: its role-lock object {path} cannot be used: {problem}; forge-init makes a segment and its role-lock object together (re-create the segment)")]
    RoleLocks {
        /// The segment name.
        name: String,
        /// The role-lock object's path.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Replacing what is at the name would fail half-way: this process may
    /// not remove it. Refused before anything was changed (nothing retired).
    #[error("cannot replace {path}: {why}; nothing was changed (the segment was not retired)")]
    CannotReplace {
        /// The segment name.
        name: String,
        /// The object that could not be removed.
        path: String,
        /// Why not.
        why: String,
    },
    /// Another initializer created the object between our unlink and create.
    #[error("{name} was created by another forge-init at the same time; retry")]
    Raced {
        /// The segment name.
        name: String,
    },
    /// The requested slot count is not allowed.
    #[error("slot count {found} is not allowed: expected a power of two from {min} to {max}")]
    BadSlotCount {
        /// The requested count.
        found: u64,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// The requested payload capacity is not allowed.
    #[error("payload capacity {found} is not allowed: expected a multiple of 8 from {min} to {max} bytes")]
    BadPayloadCapacity {
        /// The requested capacity.
        found: u64,
        /// Smallest allowed.
        min: usize,
        /// Largest allowed.
        max: usize,
    },
    /// Any other I/O failure, with what we were doing.
    #[error("{name}: {action} failed: {source}")]
    Io {
        /// The segment name.
        name: String,
        /// What we were doing.
        action: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

/// Why a role could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    /// Another live process holds the role: the kernel says its role lock
    /// is taken.
    #[error("the {role} role of this segment is held by a live process ({} as its header says); only one {role} may attach", holder_text(.program, *.pid))]
    Held {
        /// The role asked for.
        role: Role,
        /// The holder's pid, as written in the header (in its own pid
        /// namespace, which may not be ours).
        pid: u32,
        /// The holder's program, as written in the header (`forge-core`);
        /// empty if it wrote none.
        program: String,
    },
    /// The segment's session changed while we attached.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The ring's indices or slot stamps are impossible: attaching would
    /// lose or repeat frames.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
    /// A read lock, which any process that may read the object can take, is
    /// in the way of the role's write lock: nobody holds the role, but it
    /// cannot be taken until that process lets go. Only a segment of a
    /// layout before 4 keeps its role locks where readers reach them.
    #[error("the {role} role of this segment is blocked, not held: {by} holds a read lock on its lock byte, which anyone who may read {} can take{}", if *.on_segment { "the segment" } else { "the role-lock object" }, if *.on_segment { "; this segment was made by an older forge-init (layout 2 or 3, role locks on the segment itself): re-create it with this forge-init, whose segments keep role locks where readers cannot reach, or stop that process" } else { "; its mode lets more than the segment's writers open it: re-create the segment with forge-init, or stop that process" })]
    Blocked {
        /// The role asked for.
        role: Role,
        /// Who holds the read lock, as far as the kernel tells this user.
        by: String,
        /// The locks are on the segment itself (an older layout).
        on_segment: bool,
    },
    /// Taking the role lock failed for another reason.
    #[error("locking the {role} role failed: {source}")]
    Lock {
        /// The role asked for.
        role: Role,
        /// The underlying error.
        source: io::Error,
    },
}

/// The segment we are attached to is no longer the live session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// forge-init retired it.
    #[error(
        "session {ours:#018x} was retired; the segment was replaced by session {successor:#018x}"
    )]
    Retired {
        /// The session we attached to.
        ours: u64,
        /// The new session.
        successor: u64,
    },
    /// The identity line no longer reads as the segment we attached to.
    /// Forge never rewrites a live segment's identity (a new session is a
    /// new object), so this is damage, not a replacement.
    #[error(transparent)]
    Corrupt(#[from] Corruption),
}

/// Damage found in a segment: something other than the protocol wrote it.
/// Attaching, reading or writing on would lose, repeat or invent frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// An identity field changed after we attached.
    #[error("the segment's identity changed under us ({what}); Forge never rewrites a live segment's identity, so the header was damaged")]
    Identity {
        /// Which field, with the value expected and found.
        what: String,
    },
    /// A slot the indices say is published holds another stamp.
    #[error("slot {slot} (ring position {position}) holds stamp {found:#x}, expected {expected:#x}: head {head} says it was published, so its slot word was damaged")]
    Stamp {
        /// Ring position whose frame should be there.
        position: u64,
        /// Slot index.
        slot: u64,
        /// The stamp of `position`.
        expected: u32,
        /// The stamp in the slot word.
        found: u32,
        /// The head that says `position` was published.
        head: u64,
    },
    /// `head` and `tail` cannot both be true.
    #[error("impossible indices: head {head}, tail {tail} on a ring of {slots} slots: {what}")]
    Indices {
        /// `head` as read.
        head: u64,
        /// `tail` as read.
        tail: u64,
        /// Slots in the ring.
        slots: u64,
        /// Which invariant fails.
        what: String,
    },
}

/// A frame could not be written ([`crate::Producer`]'s write family).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The frame is larger than a slot's payload.
    #[error("frame of {len} bytes does not fit a slot: at most {max} bytes")]
    TooLarge {
        /// The frame's length.
        len: usize,
        /// [`crate::PAYLOAD_CAPACITY`].
        max: usize,
    },
    /// The ring is full right now.
    #[error("ring is full")]
    Full,
}

/// A published frame could not be read ([`crate::Consumer`]'s read
/// family).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The slot word claims a length larger than a slot: the segment is corrupt.
    #[error("slot at position {pos} claims {len} bytes, more than a slot holds ({max}); the segment is corrupt")]
    Corrupt {
        /// The ring position.
        pos: u64,
        /// The claimed length.
        len: usize,
        /// [`crate::PAYLOAD_CAPACITY`].
        max: usize,
    },
    /// The destination buffer is too small for the frame.
    #[error("frame of {len} bytes does not fit the {buf} byte buffer")]
    BufferTooSmall {
        /// The frame's length.
        len: usize,
        /// The buffer's length.
        buf: usize,
    },
}

/// What is wrong with an identity line whose magic and version are Forge's:
/// its geometry, its state or its session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderProblem {
    /// `header_size` is not [`HEADER_SIZE`].
    #[error("header_size is {0}, expected {HEADER_SIZE}")]
    HeaderSize(u32),
    /// `slot_size` is not 8 + `payload_capacity`.
    #[error("slot_size is {found}, expected {expected} (8 + payload_capacity)")]
    SlotSize {
        /// The declared slot size.
        found: u32,
        /// The size that `payload_capacity` gives.
        expected: u32,
    },
    /// `slot_count` is not a power of two in range.
    #[error(
        "slot_count is {0}, expected a power of two from {MIN_SLOT_COUNT} to {MAX_SLOT_COUNT}"
    )]
    SlotCount(u32),
    /// `segment_size` does not match `slot_count`.
    #[error("segment_size is {found}, expected {expected} for {slots} slots")]
    SegmentSize {
        /// The declared size.
        found: u64,
        /// The size `slots` slots take.
        expected: u64,
        /// `slot_count`.
        slots: u32,
    },
    /// `payload_capacity` is not one a segment of its layout version may
    /// have.
    #[error("payload_capacity is {found}, expected {}", capacity_rule(*.layout_version))]
    PayloadCapacity {
        /// The declared capacity.
        found: u32,
        /// The header's layout version.
        layout_version: u32,
    },
    /// Live without a session.
    #[error("state is live but session_id is 0")]
    NoSession,
    /// A state this build does not know.
    #[error("state is {0}, expected 0, 1 or 2")]
    UnknownState(u32),
    /// A layout 4 header that names no role-lock object.
    #[error("role_lock_ino is 0: a layout 4 segment names its role-lock object there")]
    NoRoleLocks,
    /// The header read differently from one look to the next while it was
    /// being opened.
    #[error("the header changed while it was being opened")]
    Changed,
}

/// The layout versions this build reads besides the one it writes: `2, 3`.
fn older_layouts() -> String {
    crate::layout::READABLE_LAYOUT_VERSIONS
        .iter()
        .filter(|&&v| v != crate::layout::LAYOUT_VERSION)
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The payload capacities a segment of `layout_version` may declare.
fn capacity_rule(layout_version: u32) -> String {
    match crate::layout::fixed_payload_capacity(layout_version) {
        Some(fixed) => format!("{fixed} (layout {layout_version})"),
        None => format!("a multiple of 8 from {MIN_PAYLOAD_CAPACITY} to {PAYLOAD_CAPACITY}"),
    }
}

/// Damage reads, in JSON, as its sentence.
#[cfg(feature = "serde")]
impl serde::Serialize for Corruption {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A role holder as a header names it: `forge-core, pid 4102`, or just the
/// pid when it wrote no program name.
fn holder_text(program: &str, pid: u32) -> String {
    if program.is_empty() {
        format!("pid {pid}")
    } else {
        format!("{program}, pid {pid}")
    }
}
