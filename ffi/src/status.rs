//! Status codes, the thread-local message of the last failure, and the
//! guard every entry point runs its body in: a panic becomes
//! `FORGE_STATUS_PANIC`, never an unwind into C.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use forge_fabric::observe::ObserveError;
use forge_fabric::{Corruption, ReadError, RoleError, SegmentError, SessionError, WriteError};
use forge_frame::FrameError;
use forge_holder::{Error as HolderError, Halt};

/// What a call did. `FORGE_STATUS_OK` (0) is success; every other code
/// names why the call failed, and `forge_last_error_message` says it in
/// words (except `FULL` and `EMPTY`, which are answers, not failures, and
/// set no message). `forge_holder_exit_code` maps a code to the exit-code
/// contract.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeStatus {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL was NULL. Nothing was done.
    NullArgument = 1,
    /// An argument is out of range or malformed: a segment name (one
    /// leading `/`, no other, at most 250 bytes, not ending in `.roles`), a slot count (a power of
    /// two from 2 to 2^20), a payload capacity (a multiple of 8 from 8 to
    /// 4096), a wait strategy, a flag bit (bit 0 is Forge's), a string that
    /// is not UTF-8.
    InvalidArgument = 2,
    /// The call does not fit the handle's state: a producer's call on a
    /// consumer holder (or the reverse), a commit with no slot claimed, a
    /// release with no frame read.
    WrongState = 3,
    /// No segment has that name.
    Missing = 4,
    /// Creating: the name is taken (creating never replaces).
    Exists = 5,
    /// The kernel denied access to the segment, or replacing: this process
    /// may not remove what is at the name (nothing was changed).
    PermissionDenied = 6,
    /// What is at the name is not a usable Forge segment: another object,
    /// another layout version, a header that is malformed, too short or too
    /// long, a partial segment left by an initializer that died, or a
    /// role-lock object that is not the segment's.
    NotASegment = 7,
    /// Opening or creating: the segment at the name has other slots than
    /// the ones asked for.
    Mismatch = 8,
    /// The segment was still initializing when the wait ended.
    Initializing = 9,
    /// The segment at the name was retired: a newer session replaced it.
    Retired = 10,
    /// Replacing without retiring live holders: a live process holds a role.
    Active = 11,
    /// The role is held by a live process (one producer, one consumer), or
    /// (a segment of an older layout) blocked by a reader's read lock: the
    /// message names it.
    RoleHeld = 12,
    /// The ring is full right now (non-blocking producer calls). Not a
    /// failure: no message is set.
    Full = 13,
    /// No frame is ready right now (non-blocking consumer calls). Not a
    /// failure: no message is set.
    Empty = 14,
    /// A frame is larger than the ring's slots hold.
    TooLarge = 15,
    /// A buffer is too small for the frame (nothing was copied or written).
    BufferTooSmall = 16,
    /// A stop was asked for: SIGINT, SIGTERM or SIGHUP to a process holding
    /// a role through a holder, or `forge_holder_stop`. Exit code 0.
    Stopped = 17,
    /// The session this handle joined was retired or replaced under it
    /// (`forge-init --force`). Exit code 3.
    SessionRetired = 18,
    /// The segment was unlinked, replaced without being retired, or
    /// truncated under the handle. Exit code 1.
    SegmentLost = 19,
    /// The segment is damaged: its identity, indices or slot stamps cannot
    /// be true. Exit code 4.
    Corrupt = 20,
    /// A frame check: fewer bytes than a frame header. Exit code 4.
    FrameShort = 21,
    /// A frame check: the header's body length does not match the bytes.
    /// Exit code 4.
    FrameLength = 22,
    /// A frame check: the checksum does not match what it covers (the body
    /// in format 1; the header fields and the body in format 2). Exit code 4.
    FrameChecksum = 23,
    /// A frame check: the format field names no format this library knows.
    /// Exit code 4.
    FrameFormat = 24,
    /// A system call failed (mmap, locking, signal handlers, …).
    Io = 25,
    /// A bug in this library: the call panicked and was stopped at the
    /// boundary. The handle it was given should be dropped.
    Panic = 26,
}

impl ForgeStatus {
    /// Every code, in order.
    pub(crate) const ALL: [ForgeStatus; 27] = [
        ForgeStatus::Ok,
        ForgeStatus::NullArgument,
        ForgeStatus::InvalidArgument,
        ForgeStatus::WrongState,
        ForgeStatus::Missing,
        ForgeStatus::Exists,
        ForgeStatus::PermissionDenied,
        ForgeStatus::NotASegment,
        ForgeStatus::Mismatch,
        ForgeStatus::Initializing,
        ForgeStatus::Retired,
        ForgeStatus::Active,
        ForgeStatus::RoleHeld,
        ForgeStatus::Full,
        ForgeStatus::Empty,
        ForgeStatus::TooLarge,
        ForgeStatus::BufferTooSmall,
        ForgeStatus::Stopped,
        ForgeStatus::SessionRetired,
        ForgeStatus::SegmentLost,
        ForgeStatus::Corrupt,
        ForgeStatus::FrameShort,
        ForgeStatus::FrameLength,
        ForgeStatus::FrameChecksum,
        ForgeStatus::FrameFormat,
        ForgeStatus::Io,
        ForgeStatus::Panic,
    ];

    /// The code `code` is, if it is one.
    pub fn from_code(code: i32) -> Option<ForgeStatus> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    /// What the code means, in a sentence.
    pub fn message(self) -> &'static CStr {
        match self {
            ForgeStatus::Ok => c"success",
            ForgeStatus::NullArgument => c"a pointer argument was NULL",
            ForgeStatus::InvalidArgument => c"an argument is out of range or malformed",
            ForgeStatus::WrongState => c"the call does not fit the handle's state",
            ForgeStatus::Missing => c"no segment has that name",
            ForgeStatus::Exists => c"the name is taken",
            ForgeStatus::PermissionDenied => c"permission denied",
            ForgeStatus::NotASegment => c"not a usable Forge segment",
            ForgeStatus::Mismatch => c"the segment has other slots than the ones asked for",
            ForgeStatus::Initializing => c"the segment is still initializing",
            ForgeStatus::Retired => c"the segment was retired",
            ForgeStatus::Active => c"a live process holds a role of the segment",
            ForgeStatus::RoleHeld => c"the role is held by a live process",
            ForgeStatus::Full => c"the ring is full",
            ForgeStatus::Empty => c"no frame is ready",
            ForgeStatus::TooLarge => c"the frame is larger than a slot",
            ForgeStatus::BufferTooSmall => c"the buffer is too small",
            ForgeStatus::Stopped => c"a stop was asked for",
            ForgeStatus::SessionRetired => c"the session was retired under us",
            ForgeStatus::SegmentLost => c"the segment was unlinked, replaced or truncated under us",
            ForgeStatus::Corrupt => c"the segment is damaged",
            ForgeStatus::FrameShort => c"the frame is shorter than a frame header",
            ForgeStatus::FrameLength => c"the frame's body length does not match its bytes",
            ForgeStatus::FrameChecksum => c"the frame's checksum does not match",
            ForgeStatus::FrameFormat => c"the frame's format is unknown",
            ForgeStatus::Io => c"a system call failed",
            ForgeStatus::Panic => c"internal error: the call panicked",
        }
    }

    /// The exit code the holder's contract gives a run that ended with
    /// this code: 0 done or stopped, 3 session retired, 4 integrity, 1 the
    /// rest (forge-holder's `Exit`).
    pub fn exit_code(self) -> u8 {
        use forge_holder::Exit;
        match self {
            ForgeStatus::Ok | ForgeStatus::Stopped => Exit::Ok,
            ForgeStatus::SessionRetired => Exit::SessionRetired,
            ForgeStatus::Corrupt
            | ForgeStatus::FrameShort
            | ForgeStatus::FrameLength
            | ForgeStatus::FrameChecksum
            | ForgeStatus::FrameFormat => Exit::Integrity,
            _ => Exit::Error,
        }
        .code()
    }
}

/// Why a call failed: its code, and what to say.
#[derive(Debug)]
pub(crate) struct Failure {
    status: ForgeStatus,
    /// `None` for the answers that are not failures (`FULL`, `EMPTY`).
    message: Option<String>,
    /// What a program that ends on it says (`stopping: …`, `error: …`),
    /// as forge-holder's `run` says it.
    report: Option<String>,
}

impl Failure {
    pub(crate) fn new(status: ForgeStatus, message: impl Into<String>) -> Failure {
        let message = message.into();
        Failure {
            status,
            report: Some(format!("error: {message}")),
            message: Some(message),
        }
    }

    /// `FULL` or `EMPTY`: a plain answer, with no message to make.
    pub(crate) fn quiet(status: ForgeStatus) -> Failure {
        Failure {
            status,
            message: None,
            report: None,
        }
    }

    /// `Ok` when a wait found what it waited for, else `none` (FULL, EMPTY)
    /// with no message: an outcome, not an error.
    pub(crate) fn unless(ready: bool, none: ForgeStatus) -> Result<(), Failure> {
        if ready {
            Ok(())
        } else {
            Err(Failure::quiet(none))
        }
    }

    pub(crate) fn null(what: &str) -> Failure {
        Failure::new(
            ForgeStatus::NullArgument,
            format!("{what} is NULL, expected a valid pointer"),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(ForgeStatus::InvalidArgument, message)
    }

    pub(crate) fn wrong_state(message: impl Into<String>) -> Failure {
        Failure::new(ForgeStatus::WrongState, message)
    }

    /// The status, having stored the message for this thread.
    fn record(self) -> ForgeStatus {
        if let Some(message) = self.message {
            let message = CString::new(message.replace('\0', "?")).unwrap_or_default();
            let _ = LAST.try_with(|last| {
                *last.borrow_mut() = Some(Last {
                    status: self.status,
                    message,
                    report: self.report,
                })
            });
        }
        self.status
    }
}

/// The message of an error and its causes, each once.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text += ": ";
            text += &part;
        }
        cause = c.source();
    }
    text
}

fn from_error(status: ForgeStatus, e: &dyn std::error::Error) -> Failure {
    Failure::new(status, chain(e))
}

fn segment_status(e: &SegmentError) -> ForgeStatus {
    match e {
        SegmentError::BadName { .. }
        | SegmentError::BadSlotCount { .. }
        | SegmentError::BadPayloadCapacity { .. } => ForgeStatus::InvalidArgument,
        SegmentError::Missing { .. } => ForgeStatus::Missing,
        SegmentError::PermissionDenied { .. } | SegmentError::CannotReplace { .. } => {
            ForgeStatus::PermissionDenied
        }
        SegmentError::NotRegular { .. }
        | SegmentError::NotForge { .. }
        | SegmentError::Version { .. }
        | SegmentError::TooShort { .. }
        | SegmentError::TooLong { .. }
        | SegmentError::Malformed { .. }
        | SegmentError::Occupied { .. }
        | SegmentError::StaleInit { .. }
        | SegmentError::InTheWay { .. }
        | SegmentError::RoleLocks { .. } => ForgeStatus::NotASegment,
        SegmentError::Swapped { .. } | SegmentError::Raced { .. } | SegmentError::Io { .. } => {
            ForgeStatus::Io
        }
        SegmentError::Initializing { .. } => ForgeStatus::Initializing,
        SegmentError::Retired { .. } => ForgeStatus::Retired,
        SegmentError::Active { .. } => ForgeStatus::Active,
        SegmentError::Exists { .. } => ForgeStatus::Exists,
        SegmentError::Mismatch { .. } => ForgeStatus::Mismatch,
    }
}

fn session_status(e: &SessionError) -> ForgeStatus {
    match e {
        SessionError::Retired { .. } => ForgeStatus::SessionRetired,
        SessionError::Corrupt(_) => ForgeStatus::Corrupt,
    }
}

fn role_status(e: &RoleError) -> ForgeStatus {
    match e {
        RoleError::Held { .. } | RoleError::Blocked { .. } => ForgeStatus::RoleHeld,
        RoleError::Session(e) => session_status(e),
        RoleError::Corrupt(_) => ForgeStatus::Corrupt,
        RoleError::Lock { .. } => ForgeStatus::Io,
    }
}

fn halt_status(h: &Halt) -> ForgeStatus {
    match h {
        Halt::Stopped => ForgeStatus::Stopped,
        Halt::SessionLost(e) => session_status(e),
        Halt::Corrupt(_) | Halt::Stalled(_) => ForgeStatus::Corrupt,
        Halt::SegmentLost(_) => ForgeStatus::SegmentLost,
    }
}

/// The status a holder's error is: the one whose exit code
/// ([`ForgeStatus::exit_code`]) is the error's own ([`HolderError::exit`]).
pub(crate) fn holder_status(e: &HolderError) -> ForgeStatus {
    match e {
        HolderError::Halt(h) => halt_status(h),
        HolderError::Open(e) => segment_status(e),
        HolderError::Role(e) => role_status(e),
        HolderError::Write(WriteError::TooLarge { .. }) => ForgeStatus::TooLarge,
        HolderError::Write(WriteError::Full) => ForgeStatus::Full,
        // A slot word the ring cannot step over: damage, exit 4.
        HolderError::Read(_) => ForgeStatus::Corrupt,
        HolderError::Signals(_) | HolderError::Fault(_) => ForgeStatus::Io,
    }
}

impl From<SegmentError> for Failure {
    fn from(e: SegmentError) -> Failure {
        from_error(segment_status(&e), &e)
    }
}

impl From<RoleError> for Failure {
    fn from(e: RoleError) -> Failure {
        from_error(role_status(&e), &e)
    }
}

impl From<SessionError> for Failure {
    fn from(e: SessionError) -> Failure {
        from_error(session_status(&e), &e)
    }
}

impl From<Corruption> for Failure {
    fn from(e: Corruption) -> Failure {
        from_error(ForgeStatus::Corrupt, &e)
    }
}

impl From<WriteError> for Failure {
    fn from(e: WriteError) -> Failure {
        match e {
            WriteError::Full => Failure::quiet(ForgeStatus::Full),
            e @ WriteError::TooLarge { .. } => from_error(ForgeStatus::TooLarge, &e),
        }
    }
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Failure {
        let status = match e {
            ReadError::Corrupt { .. } => ForgeStatus::Corrupt,
            ReadError::BufferTooSmall { .. } => ForgeStatus::BufferTooSmall,
        };
        from_error(status, &e)
    }
}

impl From<Halt> for Failure {
    fn from(h: Halt) -> Failure {
        HolderError::Halt(h).into()
    }
}

impl From<HolderError> for Failure {
    fn from(e: HolderError) -> Failure {
        let status = holder_status(&e);
        Failure {
            status,
            message: Some(chain(&e)),
            report: e.message(),
        }
    }
}

impl From<FrameError> for Failure {
    fn from(e: FrameError) -> Failure {
        let status = match e {
            FrameError::Short { .. } => ForgeStatus::FrameShort,
            FrameError::BodyLength { .. } => ForgeStatus::FrameLength,
            FrameError::Checksum { .. } => ForgeStatus::FrameChecksum,
            FrameError::Reserved(_) => ForgeStatus::FrameFormat,
            FrameError::TooLarge(_) => ForgeStatus::TooLarge,
        };
        from_error(status, &e)
    }
}

impl From<ObserveError> for Failure {
    fn from(e: ObserveError) -> Failure {
        let status = match e {
            ObserveError::Truncated { .. } => ForgeStatus::SegmentLost,
            ObserveError::Stat(_) => ForgeStatus::Io,
        };
        from_error(status, &e)
    }
}

/// The last failure on this thread.
struct Last {
    status: ForgeStatus,
    message: CString,
    report: Option<String>,
}

thread_local! {
    static LAST: RefCell<Option<Last>> = const { RefCell::new(None) };
}

/// Runs an entry point's body: its failure is recorded for
/// `forge_last_error_message`, and a panic stops here as
/// [`ForgeStatus::Panic`].
pub(crate) fn call(body: impl FnOnce() -> Result<(), Failure>) -> ForgeStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ForgeStatus::Ok,
        Ok(Err(failure)) => failure.record(),
        Err(payload) => panicked(payload).record(),
    }
}

/// Runs an entry point that returns a value, not a status: a panic gives
/// `fallback` (and the message).
pub(crate) fn value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            panicked(payload).record();
            fallback
        }
    }
}

fn panicked(payload: Box<dyn std::any::Any + Send>) -> Failure {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    Failure::new(
        ForgeStatus::Panic,
        format!("internal error in forge-ffi (please report it): {what}"),
    )
}

/// The message of the last failure on this thread, or "" when none.
pub(crate) fn last_message() -> *const c_char {
    LAST.try_with(|last| {
        last.borrow()
            .as_ref()
            .map_or(c"".as_ptr(), |l| l.message.as_ptr())
    })
    .unwrap_or(c"".as_ptr())
}

/// What a program ending on `status` says after its name, if anything:
/// the last failure's own report when it was this status, else the code's
/// sentence.
pub(crate) fn end_report(status: ForgeStatus) -> Option<String> {
    if matches!(status, ForgeStatus::Ok | ForgeStatus::Stopped) {
        return None;
    }
    let recorded = LAST
        .try_with(|last| {
            last.borrow()
                .as_ref()
                .filter(|l| l.status == status)
                .and_then(|l| l.report.clone())
        })
        .ok()
        .flatten();
    Some(recorded.unwrap_or_else(|| format!("error: {}", status.message().to_string_lossy())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_position_in_all() {
        for (i, s) in ForgeStatus::ALL.iter().enumerate() {
            assert_eq!(*s as i32, i as i32);
            assert_eq!(ForgeStatus::from_code(i as i32), Some(*s));
        }
        assert_eq!(ForgeStatus::from_code(-1), None);
        assert_eq!(ForgeStatus::from_code(ForgeStatus::ALL.len() as i32), None);
    }

    #[test]
    fn a_panic_in_a_body_becomes_a_status_and_a_message() {
        let status = call(|| panic!("boom at the boundary"));
        assert_eq!(status, ForgeStatus::Panic);
        // SAFETY: last_message returns a NUL-terminated string owned by this
        // thread's record, alive until the next failure on this thread.
        let message = unsafe { CStr::from_ptr(last_message()) };
        assert!(message.to_string_lossy().contains("boom at the boundary"));
        assert_eq!(value(7, || panic!("again")), 7);
    }

    #[test]
    fn a_holder_errors_status_has_the_errors_own_exit_code() {
        use forge_fabric::Role;
        use forge_holder::end::Lost;
        let corruption = Corruption::Identity { what: "x".into() };
        let retired = SessionError::Retired {
            ours: 1,
            successor: 2,
        };
        let io = || std::io::Error::other("x");
        let errors = [
            HolderError::Halt(Halt::Stopped),
            HolderError::Halt(Halt::SessionLost(retired.clone())),
            HolderError::Halt(Halt::Corrupt(corruption.clone())),
            HolderError::Halt(Halt::Stalled(corruption.clone())),
            HolderError::Halt(Halt::SegmentLost(Lost::Unlinked)),
            HolderError::Open(SegmentError::Missing { name: "/x".into() }),
            HolderError::Open(SegmentError::Retired {
                name: "/x".into(),
                session: 1,
                successor: 2,
            }),
            HolderError::Role(RoleError::Held {
                role: Role::Producer,
                pid: 1,
                program: String::new(),
            }),
            HolderError::Role(RoleError::Session(retired)),
            HolderError::Role(RoleError::Session(SessionError::Corrupt(
                corruption.clone(),
            ))),
            HolderError::Role(RoleError::Corrupt(corruption)),
            HolderError::Role(RoleError::Lock {
                role: Role::Consumer,
                source: io(),
            }),
            HolderError::Write(WriteError::TooLarge {
                len: 5000,
                max: 4096,
            }),
            HolderError::Read(ReadError::Corrupt {
                pos: 1,
                len: 5000,
                max: 4096,
            }),
            HolderError::Signals(io()),
            HolderError::Fault(io()),
        ];
        for e in errors {
            assert_eq!(
                holder_status(&e).exit_code(),
                e.exit().code(),
                "{e:?} is {:?}",
                holder_status(&e)
            );
        }
    }

    #[test]
    fn full_and_empty_leave_the_last_message_alone() {
        assert_eq!(
            call(|| Err(Failure::invalid("first"))),
            ForgeStatus::InvalidArgument
        );
        assert_eq!(
            call(|| Err(Failure::quiet(ForgeStatus::Full))),
            ForgeStatus::Full
        );
        // SAFETY: as above.
        let message = unsafe { CStr::from_ptr(last_message()) };
        assert_eq!(message.to_str().unwrap(), "first");
    }
}
