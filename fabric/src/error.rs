//! Typed errors. Each message names what was expected and what was found.

use std::io;

/// Why a segment could not be created, opened or used.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The name is not of the form `/name` (one leading slash, at most 255 bytes).
    #[error("invalid segment name {name:?}: {reason}")]
    BadName {
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No shared-memory object has that name.
    #[error("segment {name} does not exist (expected /dev/shm{name}); run forge-init first")]
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
    #[error("{name} is {what}; refusing to use it as a segment")]
    NotRegular {
        /// The segment name.
        name: String,
        /// What it is instead.
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
    #[error("{name} has layout version {found}, this build reads version {expected}; rebuild the tools from one tree or re-create the segment")]
    Version {
        /// The segment name.
        name: String,
        /// The version in the header.
        found: u32,
        /// The version this build speaks.
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
    /// The header's geometry is inconsistent.
    #[error("{name} has a malformed header: {what}")]
    Malformed {
        /// The segment name.
        name: String,
        /// Which field is wrong, with the values found and expected.
        what: String,
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
    /// A live daemon holds the segment and re-initialization was not forced.
    #[error("{name} is in use: the {role} (pid {pid}) is alive and heart-beating; stop it first or pass --force to replace the segment under it")]
    Active {
        /// The segment name.
        name: String,
        /// `"producer"` or `"consumer"`.
        role: &'static str,
        /// The live holder's pid.
        pid: u32,
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
    /// Another live process holds the role.
    #[error("the {role} role of this segment is held by pid {pid}, which is alive; only one {role} may attach")]
    Held {
        /// `"producer"` or `"consumer"`.
        role: &'static str,
        /// The holder's pid.
        pid: u32,
    },
    /// The segment's session changed while we attached.
    #[error(transparent)]
    Session(#[from] SessionError),
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
    /// The header names a different session than the one we attached to.
    #[error("session changed under us: attached to {ours:#018x}, segment now says {found:#018x}")]
    Changed {
        /// The session we attached to.
        ours: u64,
        /// The session in the header now.
        found: u64,
    },
}

/// A frame could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
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

/// A published frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PopError {
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
