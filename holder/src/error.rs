//! Why a holder could not start or had to stop, as one typed error whose
//! [`exit`](Error::exit) is the exit-code contract; and [`run`], the `main`
//! of a program that holds a role.

use forge_fabric::{ReadError, RoleError, SegmentError, SessionError, WriteError};

use crate::checks::Halt;
use crate::exit::Exit;

/// Why a [`crate::Holder`] could not start, or ended its run. No variant
/// names a command line: programs add their own hints by matching them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A check ended the run: a stop asked for (SIGINT, SIGTERM, SIGHUP), a
    /// retired session, damage, or a lost segment.
    #[error(transparent)]
    Halt(#[from] Halt),
    /// The segment could not be opened.
    #[error("cannot open the segment: {0}")]
    Open(#[source] SegmentError),
    /// The role could not be taken.
    #[error("cannot take the role: {0}")]
    Role(#[source] RoleError),
    /// A frame could not be written (longer than the ring's slots).
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A slot word claims more than a slot: the ring cannot step over it.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The signal handlers could not be installed.
    #[error("cannot install the signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// The SIGBUS guard could not be installed.
    #[error("cannot install the SIGBUS reporter: {0}")]
    Fault(#[source] std::io::Error),
}

impl Error {
    /// The exit code a program ends with for this error (see
    /// [`Exit`]): 0 for a stop asked for, 3 when the session was retired
    /// under the holder, 4 for damage (a corrupt segment or slot, a role
    /// refused because the ring's indices or stamps cannot be true), 1 for
    /// everything else.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::{Error, Exit, Halt};
    ///
    /// assert_eq!(Error::Halt(Halt::Stopped).exit(), Exit::Ok);
    /// let retired = forge_fabric::SessionError::Retired { ours: 1, successor: 2 };
    /// assert_eq!(Error::Halt(retired.into()).exit(), Exit::SessionRetired);
    /// ```
    pub fn exit(&self) -> Exit {
        let session = |e: &SessionError| match e {
            SessionError::Retired { .. } => Exit::SessionRetired,
            SessionError::Corrupt(_) => Exit::Integrity,
        };
        match self {
            Error::Halt(Halt::Stopped) => Exit::Ok,
            Error::Halt(Halt::SessionLost(e)) => session(e),
            Error::Halt(Halt::Corrupt(_) | Halt::Stalled(_)) | Error::Read(_) => Exit::Integrity,
            Error::Halt(Halt::SegmentLost(_)) => Exit::Error,
            Error::Role(RoleError::Session(e)) => session(e),
            Error::Role(RoleError::Corrupt(_)) => Exit::Integrity,
            Error::Role(_)
            | Error::Open(_)
            | Error::Write(_)
            | Error::Signals(_)
            | Error::Fault(_) => Exit::Error,
        }
    }

    /// What a program says on stderr for this error, after its name:
    /// nothing for a stop asked for, `stopping: …` for the other ends of a
    /// run, `error: …` (with its causes) for the rest.
    pub fn message(&self) -> Option<String> {
        match self {
            Error::Halt(Halt::Stopped) => None,
            Error::Halt(h) => Some(format!("stopping: {h}")),
            e => {
                let mut text = format!("error: {e}");
                let mut cause = std::error::Error::source(e);
                // The first source is in the message already.
                if cause.is_some() {
                    cause = cause.and_then(std::error::Error::source);
                }
                while let Some(c) = cause {
                    text += &format!(": {c}");
                    cause = c.source();
                }
                Some(text)
            }
        }
    }
}

/// The `main` of a program that holds a role: runs `body`, and when it
/// ends with an error says why on stderr (`PROGRAM: stopping: …` or
/// `PROGRAM: error: …`; nothing for a stop asked for) and returns the exit
/// code the contract gives it ([`Error::exit`]). `Ok(())` exits 0.
///
/// # Examples
///
/// ```
/// use forge_holder::{Exit, Halt};
///
/// assert_eq!(forge_holder::run("demo", || Ok(())), Exit::Ok);
/// assert_eq!(forge_holder::run("demo", || Err(Halt::Stopped.into())), Exit::Ok);
/// ```
pub fn run(program: &str, body: impl FnOnce() -> Result<(), Error>) -> Exit {
    match body() {
        Ok(()) => Exit::Ok,
        Err(e) => {
            if let Some(message) = e.message() {
                eprintln!("{program}: {message}");
            }
            e.exit()
        }
    }
}
