//! Error reports for people: color-eyre, installed once, and the exit code
//! an error report ends a binary with (the holder's contract,
//! [`forge_holder::Exit`]).

use std::io::IsTerminal;

use color_eyre::config::{HookBuilder, Theme};
use forge_fabric::{Corruption, RoleError, SessionError};
use forge_holder::Exit;

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

/// The exit code for an error that ended a run: the holder's
/// ([`forge_holder::Error::exit`]) when one is in the chain; 3 when the
/// segment's session was retired, 4 when the segment is damaged (its
/// identity, indices or stamps), 1 for everything else.
pub fn classify(report: &color_eyre::Report) -> Exit {
    let session = |e: &SessionError| match e {
        SessionError::Retired { .. } => Exit::SessionRetired,
        SessionError::Corrupt(_) => Exit::Integrity,
    };
    for cause in report.chain() {
        if let Some(e) = cause.downcast_ref::<forge_holder::Error>() {
            return e.exit();
        }
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
