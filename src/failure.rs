//! Why forge-top stopped with an error, said for the reader at hand.
//!
//! A person at a terminal gets a coloured error and a hint; a script (stderr
//! not a terminal, or `NO_COLOR`) gets one plain paragraph: what was
//! expected, what was found, what to do. No source location and no
//! backtrace, even under `RUST_BACKTRACE`: a failure is an answer to the
//! input, not a bug (a bug panics, and the panic hook prints its backtrace
//! when asked). `--format json` modes also get `{"error", "kind", "hint"}`
//! on stdout.

use std::fmt;

use crate::model::SegmentError;

/// A failure: what happened, what to do, and a kind scripts can match.
#[derive(Debug)]
pub struct Failure {
    /// A stable snake_case word: `missing`, `not_regular`, `io`, …
    pub kind: &'static str,
    /// What was expected and what was found.
    pub what: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: &'static str, what: impl Into<String>) -> Self {
        Failure {
            kind,
            what: what.into(),
            hint: None,
        }
    }

    /// With what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A segment error, with the hint that fits what is at the name.
    pub fn segment(e: &SegmentError, missing_hint: &str) -> Self {
        Failure::new(segment_kind(e), e.to_string()).hint(attach_hint(e, missing_hint))
    }

    /// The JSON object `--format json` prints on stdout.
    pub fn json(&self) -> String {
        serde_json::json!({ "error": self.what, "kind": self.kind, "hint": self.hint }).to_string()
    }

    /// Writes the failure to stderr: coloured for a person, plain for a
    /// script.
    pub fn report(&self, colour: bool) {
        if colour {
            eprintln!("\x1b[1;31merror:\x1b[0m {}", self.what);
            if let Some(h) = &self.hint {
                eprintln!("\x1b[33mhint:\x1b[0m {h}");
            }
        } else {
            eprintln!("forge-top: {self}");
        }
    }
}

/// One paragraph.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.what.trim_end_matches('.'))?;
        if let Some(h) = &self.hint {
            let end = if h.ends_with(['.', '?', '!']) {
                ""
            } else {
                "."
            };
            write!(f, ". {}{end}", upper_first(h))?;
        } else {
            write!(f, ".")?;
        }
        Ok(())
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl From<forge_record::offline::OfflineError> for Failure {
    fn from(e: forge_record::offline::OfflineError) -> Self {
        use forge_record::offline::OfflineError as E;
        let (kind, hint) = match &e {
            E::Io { .. } => ("io", None),
            E::Unknown { .. } => ("not_a_forge_file", None),
            E::Recording(forge_record::read::ReadError::Incomplete { .. }) => (
                "incomplete_recording",
                Some("--recover reads it up to its last complete chunk"),
            ),
            E::Recording(_) => ("bad_recording", None),
            E::Image { .. } => ("bad_image", None),
        };
        let f = Failure::new(kind, e.to_string());
        match hint {
            Some(h) => f.hint(h),
            None => f,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::new("io", e.to_string())
    }
}

/// The kind word of a segment error.
pub fn segment_kind(e: &SegmentError) -> &'static str {
    match e {
        SegmentError::BadName { .. } => "bad_name",
        SegmentError::Missing { .. } => "missing",
        SegmentError::PermissionDenied { .. } => "permission_denied",
        SegmentError::NotRegular { .. } => "not_regular",
        SegmentError::NotForge { .. } => "not_forge",
        SegmentError::Version { .. } => "version",
        SegmentError::TooShort { .. } => "too_short",
        SegmentError::TooLong { .. } => "too_long",
        SegmentError::Malformed { .. } => "malformed",
        SegmentError::Initializing { .. } => "initializing",
        _ => "segment",
    }
}

/// What to suggest when attaching failed, by the kind of error: `missing`
/// when the segment is not there, otherwise advice that fits what is there.
fn attach_hint(error: &SegmentError, missing: &str) -> String {
    match error {
        SegmentError::NotForge { .. } | SegmentError::Malformed { .. } | SegmentError::TooLong { .. } => {
            "something else is at that name: replace it with forge-init --force, or pick another --segment".into()
        }
        SegmentError::Version { .. } => {
            "the segment was made by another build: re-create it with this build's forge-init --force".into()
        }
        SegmentError::NotRegular { what: "a directory", .. } => {
            "remove the directory (rmdir) or pick another --segment; forge-init --force removes it if it is empty".into()
        }
        SegmentError::NotRegular { .. } => {
            "remove what is at that name (Forge never follows links), then run forge-init; forge-init --force replaces it".into()
        }
        SegmentError::TooShort { .. } => {
            "the file is smaller than its header says (truncated?): re-create it with forge-init --force".into()
        }
        SegmentError::PermissionDenied { .. } => {
            "the segment belongs to another user; run forge-top as that user, or ask for a group mode (forge-init --mode 640)".into()
        }
        _ => missing.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_one_paragraph_and_json_says_the_kind() {
        let f =
            Failure::new("missing", "segment /x does not exist").hint("start it with forge-init");
        assert_eq!(
            f.to_string(),
            "segment /x does not exist. Start it with forge-init."
        );
        let j: serde_json::Value = serde_json::from_str(&f.json()).unwrap();
        assert_eq!(j["kind"], "missing");
        assert_eq!(j["error"], "segment /x does not exist");
    }
}
