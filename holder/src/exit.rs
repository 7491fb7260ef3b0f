//! Exit codes shared by every program that holds a role (and forge-init):
//! a contract.
//!
//! Scripts and forge-top branch on these numbers, so they are part of the
//! command-line contract: never renumber them. [`crate::Error::exit`] maps
//! why a holder stopped to one of them.

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

/// `fn main() -> Exit` ends the process with the code.
impl std::process::Termination for Exit {
    fn report(self) -> std::process::ExitCode {
        self.into()
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
