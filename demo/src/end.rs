//! How forge-stream's and forge-core's runs end: one type for both, with its
//! name in reports and its exit code. The holder's checks end a run with a
//! [`Halt`]; the demo adds its own ends (a count reached, a frame that
//! fails verification).

use forge_fabric::{Corruption, SessionError};
use forge_frame::verify::Issue;
use forge_holder::checks::Halt;
use forge_holder::end::Lost;
use forge_holder::exit::Exit;

/// Why a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// `--count` frames were sent or read.
    CountReached,
    /// SIGINT, SIGTERM or SIGHUP.
    Stopped,
    /// The segment was retired or replaced under us (`forge-init --force`).
    SessionLost(SessionError),
    /// The segment was damaged under us: its identity line, `tail` as the
    /// producer sees it, or a published slot's stamp.
    Corrupt(Corruption),
    /// The consumer saw a gap, a duplicate or a corrupt frame (with
    /// `--verify`), or a slot the ring cannot step over.
    Integrity(Issue),
    /// The segment was unlinked, replaced without retirement, or truncated
    /// under us (seen by the watch thread).
    SegmentLost(Lost),
}

impl RunEnd {
    /// Short name for reports: `count_reached`, `stopped`, …
    pub fn name(&self) -> &'static str {
        match self {
            RunEnd::CountReached => "count_reached",
            RunEnd::Stopped => "stopped",
            RunEnd::SessionLost(_) => "session_retired",
            RunEnd::Corrupt(_) => "segment_corrupt",
            RunEnd::Integrity(_) => "integrity_failure",
            RunEnd::SegmentLost(lost) => lost.name(),
        }
    }

    /// The exit code a daemon ends with. `issues` are the integrity failures
    /// counted without `--verify`, which make a clean end exit 4 too.
    pub fn exit(&self, issues: u64) -> Exit {
        match self {
            RunEnd::CountReached | RunEnd::Stopped if issues > 0 => Exit::Integrity,
            RunEnd::CountReached | RunEnd::Stopped => Exit::Ok,
            RunEnd::SessionLost(_) => Exit::SessionRetired,
            RunEnd::Corrupt(_) | RunEnd::Integrity(_) => Exit::Integrity,
            RunEnd::SegmentLost(_) => Exit::Error,
        }
    }

    /// What a daemon says on stderr as it stops for this reason, if it has
    /// anything to add to its report: for `name`, as a `hint` to recover.
    pub fn message(&self, name: &str) -> Option<String> {
        match self {
            RunEnd::CountReached | RunEnd::Stopped | RunEnd::Integrity(_) => None,
            RunEnd::SessionLost(e) => Some(format!("{name}: {e}")),
            RunEnd::SegmentLost(lost) => Some(format!("{name}: {lost}")),
            RunEnd::Corrupt(c) => Some(format!(
                "{name}: {c}\n  hint: start over with: forge-init --force --segment {name} \
                 (the frames it holds are discarded)"
            )),
        }
    }
}

impl RunEnd {
    /// Says on stderr why `program` stopped (when its report does not), and
    /// returns its exit code.
    pub fn finish(&self, program: &str, name: &str, issues: u64) -> Exit {
        if let Some(message) = self.message(name) {
            eprintln!("{program}: stopping: {message}");
        }
        self.exit(issues)
    }
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name().replace('_', " "))
    }
}

impl serde::Serialize for RunEnd {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A report's end: `running` in an interim report.
pub fn end_name(end: &Option<RunEnd>) -> &'static str {
    end.as_ref().map_or("running", RunEnd::name)
}

/// Serializes a report's end as its name (`running` in an interim report).
pub fn serialize_end<S: serde::Serializer>(end: &Option<RunEnd>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(end_name(end))
}

/// A report's last line: `ended      stopped`, or `still running`.
pub fn end_line(end: &Option<RunEnd>) -> String {
    match end {
        Some(end) => format!("  ended      {end}\n"),
        None => "  still running\n".to_owned(),
    }
}

impl From<Halt> for RunEnd {
    fn from(h: Halt) -> RunEnd {
        match h {
            Halt::Stopped => RunEnd::Stopped,
            Halt::SessionLost(e) => RunEnd::SessionLost(e),
            Halt::Corrupt(c) | Halt::Stalled(c) => RunEnd::Corrupt(c),
            Halt::SegmentLost(l) => RunEnd::SegmentLost(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_has_its_name_and_exit_code() {
        let retired = SessionError::Retired {
            ours: 1,
            successor: 2,
        };
        let damaged = Corruption::Identity {
            what: "magic".into(),
        };
        let cases = [
            (RunEnd::CountReached, "count_reached", Exit::Ok),
            (RunEnd::Stopped, "stopped", Exit::Ok),
            (
                RunEnd::SessionLost(retired),
                "session_retired",
                Exit::SessionRetired,
            ),
            (RunEnd::Corrupt(damaged), "segment_corrupt", Exit::Integrity),
            (
                RunEnd::SegmentLost(Lost::Unlinked),
                "segment_unlinked",
                Exit::Error,
            ),
        ];
        for (end, name, exit) in cases {
            assert_eq!(end.name(), name);
            assert_eq!(end.exit(0), exit);
            assert_eq!(serde_json::to_value(&end).unwrap(), name);
        }
        assert_eq!(RunEnd::Stopped.exit(3), Exit::Integrity);
        assert_eq!(RunEnd::CountReached.to_string(), "count reached");
        assert_eq!(end_name(&None), "running");
    }
}
