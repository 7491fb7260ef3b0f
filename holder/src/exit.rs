//! Exit codes shared by forge-init, forge-stream and forge-core, and the
//! error reporting that picks them.
//!
//! Scripts and forge-top branch on these numbers, so they are part of the
//! command-line contract: never renumber them.

use color_eyre::config::{HookBuilder, Theme};
use forge_fabric::{Corruption, RoleError, SessionError};
use std::io::IsTerminal;

/// How a daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// 0: the run did what was asked (count reached, or stopped by a signal).
    Ok,
    /// 1: bad input or an I/O failure: missing or foreign segment, role held,
    /// core that does not exist, frame larger than a slot, …
    Error,
    /// 2: the command line could not be parsed (clap's own code).
    Usage,
    /// 3: the segment was retired or replaced under us by `forge-init --force`.
    SessionRetired,
    /// 4: the consumer saw a gap, a duplicate or a corrupt frame, or the
    /// segment is damaged (identity, indices or stamps that cannot be true).
    Integrity,
}

impl Exit {
    /// The process exit status.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Usage => 2,
            Exit::SessionRetired => 3,
            Exit::Integrity => 4,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

/// The exit-code table every `--help` ends with.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (count reached, or stopped by SIGINT/SIGTERM)
  1  error: bad input or I/O (missing or foreign segment, role held, no such core, …)
  2  usage: the command line could not be parsed
  3  the segment was retired or replaced under us (forge-init --force)
  4  data integrity failure: a gap, duplicate or corrupt frame, or a damaged
     segment (identity, indices or slot stamps that cannot be true)";

/// Installs color-eyre without the environment and location sections (they
/// help a developer, not someone running a daemon), and without colours when
/// stderr is not a terminal, so logs and tests read plain text.
pub fn install_reports() {
    // Errors here are the user's situation (no segment, role held), not a
    // bug: no backtrace unless RUST_LIB_BACKTRACE asks for one. Panics keep
    // following RUST_BACKTRACE. Single-threaded at this point, so setting
    // the variable races with nothing.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let mut hook = HookBuilder::default()
        .display_env_section(false)
        .display_location_section(false);
    if !std::io::stderr().is_terminal() {
        hook = hook.theme(Theme::new());
    }
    // Only fails if a hook is already installed, which then does the job.
    let _ = hook.install();
}

/// The exit code for an error that ended a run: 3 when the segment's session
/// was retired, 4 when the segment is damaged (its identity, indices or
/// stamps), 1 for everything else.
pub fn classify(report: &color_eyre::Report) -> Exit {
    let session = |e: &SessionError| match e {
        SessionError::Retired { .. } => Exit::SessionRetired,
        SessionError::Corrupt(_) => Exit::Integrity,
    };
    for cause in report.chain() {
        if let Some(e) = cause.downcast_ref::<SessionError>() {
            return session(e);
        }
        match cause.downcast_ref::<RoleError>() {
            Some(RoleError::Session(e)) => return session(e),
            Some(RoleError::Corrupt(_)) => return Exit::Integrity,
            _ => {}
        }
        if cause.downcast_ref::<Corruption>().is_some() {
            return Exit::Integrity;
        }
    }
    Exit::Error
}

/// Prints `report` to stderr as `NAME: error: …` and returns its exit code.
pub fn fail(program: &str, report: &color_eyre::Report) -> Exit {
    eprintln!("{program}: error: {report:?}");
    classify(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use color_eyre::eyre::{eyre, WrapErr};

    #[test]
    fn codes_are_the_documented_numbers() {
        let all = [
            Exit::Ok,
            Exit::Error,
            Exit::Usage,
            Exit::SessionRetired,
            Exit::Integrity,
        ];
        let codes: Vec<u8> = all.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3, 4]);
        for e in all {
            assert!(EXIT_CODES_HELP.contains(&format!("  {}  ", e.code())));
        }
    }

    #[test]
    fn a_session_error_anywhere_in_the_chain_means_exit_3() {
        let session = SessionError::Retired {
            ours: 1,
            successor: 2,
        };
        let report = Err::<(), _>(session)
            .wrap_err("while streaming")
            .unwrap_err();
        assert_eq!(classify(&report), Exit::SessionRetired);
        let role = RoleError::Session(SessionError::Retired {
            ours: 1,
            successor: 3,
        });
        assert_eq!(
            classify(&color_eyre::Report::new(role)),
            Exit::SessionRetired
        );
        let damaged = Corruption::Identity {
            what: "magic is 0x0".into(),
        };
        let role = RoleError::Session(SessionError::Corrupt(damaged.clone()));
        assert_eq!(classify(&color_eyre::Report::new(role)), Exit::Integrity);
        let role = RoleError::Corrupt(damaged);
        assert_eq!(classify(&color_eyre::Report::new(role)), Exit::Integrity);
        assert_eq!(classify(&eyre!("no such core")), Exit::Error);
        let held = RoleError::Held {
            role: forge_fabric::Role::Producer,
            pid: 7,
            program: "forge-stream".into(),
        };
        assert_eq!(classify(&color_eyre::Report::new(held)), Exit::Error);
    }
}
