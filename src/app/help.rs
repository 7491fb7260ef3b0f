//! The help as data: every key (from the one binding table), every slot
//! state and marker, every daemon column and status, and every kind of
//! alarm, laid out at a width. The app needs its length to scroll it; the
//! screen gives each tone its colour.

use super::layout::{self, words, Focus};
use crate::alarms::KINDS;
use crate::keys::{When, BINDINGS};

/// Width of the term column.
const TERM_W: usize = 18;

/// Slot states, as the list and the detail name them.
const STATES: &[(&str, &str)] = &[
    ("free", "never written in this session"),
    ("pend", "published by the producer, not yet released by the consumer"),
    ("done", "released by the consumer; the producer may reuse it"),
    ("busy", "released, and the producer (holding its role) may be writing its next lap into it now: a copy is not shown"),
    ("TORN", "the slot changed while it was being copied although the producer was not due to write it"),
    ("bad", "a whole copy whose frame fails its checksum or length check"),
    ("(lapped)", "the frame you selected was overwritten since: the detail says how many laps ago"),
    ("rec", "offline: a recorded frame (whether it was read yet is not in a recording)"),
    ("none", "offline: the recording holds no frame for this slot at the cursor (the tap missed it, or the recording began later)"),
];

/// Markers in the slot list.
const MARKERS: &[(&str, &str)] = &[
    ("▶", "the selected slot"),
    ("T", "tail: the slot the consumer reads next"),
    ("H", "head: where the producer's published index points; it is stored every --batch frames, so the newest frame may be up to a batch past it (h selects the newest)"),
    ("@N", "no frame header decodes, but the stamp says position N"),
];

/// The daemon table's columns and statuses.
const DAEMONS: &[(&str, &str)] = &[
    ("● running", "a live process holds the role's lock (the kernel says so) and beats"),
    ("● parked", "running, asleep on its futex waiting for frames or room"),
    ("◐ STALLED", "holds the lock but its heartbeat is older than --stale (SIGSTOP, a debugger); /proc state shown when it is proven to be here"),
    ("■ stopped", "stopped cleanly and released the role"),
    ("✗ DEAD", "the role says active but no process holds its lock: died without a clean stop"),
    ("vacant", "nobody took the role since the segment was made"),
    ("restarted", "a new pid took the role in the last minute (the log has the old one)"),
    ("pid (elsewhere)", "the holder lives in another pid namespace (a container) or could not be proven to be that pid here: forge-top shows no /proc facts and sends it no signal"),
    ("core pin / allowed @on", "the core the daemon pinned itself to, the cores the kernel allows it, and the one it last ran on (yellow when they disagree)"),
    ("session", "= segment when the daemon attached to the session in the header; ≠ when to another (a stale daemon)"),
    ("full/empty", "times the producer found the ring full, or the consumer found it empty"),
    ("wait×batch", "how it waits (spin, yield, park) and how many frames per index store"),
];

/// What a piece of the help is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A section's name.
    Title,
    /// A key.
    Key,
    /// A slot state or a daemon status.
    State,
    /// A slot list marker.
    Marker,
    /// An alarm kind.
    Alarm,
    /// What a term means.
    Text,
    /// A closing remark.
    Note,
}

/// One line of the help: pieces of text and their tones.
pub type HelpLine = Vec<(Tone, String)>;

/// Every line of the help at `width` columns.
pub fn lines(width: u16) -> Vec<HelpLine> {
    let mut out: Vec<HelpLine> = Vec::new();
    let section = |out: &mut Vec<HelpLine>, name: &str| {
        if !out.is_empty() {
            out.push(Vec::new());
        }
        out.push(vec![(Tone::Title, name.to_owned())]);
    };
    let item = |out: &mut Vec<HelpLine>, term: &str, what: &str, tone: Tone| {
        let room = usize::from(width).saturating_sub(TERM_W + 2);
        let wide_term = unicode_width::UnicodeWidthStr::width(term) + 1 > TERM_W;
        if wide_term {
            out.push(vec![(tone, format!("  {term}"))]);
        }
        for (i, l) in words(what, room as u16).into_iter().enumerate() {
            let head = if i == 0 && !wide_term {
                format!("  {term:<TERM_W$}")
            } else {
                " ".repeat(TERM_W + 2)
            };
            out.push(vec![(tone, head), (Tone::Text, l)]);
        }
    };
    section(&mut out, "Keys");
    for b in BINDINGS.iter().filter(|b| b.when != When::Recording) {
        let help = if b.when == When::Live {
            format!("{} (live only)", b.help)
        } else {
            b.help.to_owned()
        };
        item(&mut out, &b.keys_text(), &help, Tone::Key);
    }
    item(
        &mut out,
        "mouse",
        "the wheel scrolls the focused panel; a click selects a slot",
        Tone::Key,
    );
    section(&mut out, "Recordings (forge-top --file FILE.mcap)");
    for b in BINDINGS.iter().filter(|b| b.when == When::Recording) {
        item(&mut out, &b.keys_text(), b.help, Tone::Key);
    }
    item(
        &mut out,
        ":",
        "moves the cursor to a sequence number, or a time of day like 12:00:03.5",
        Tone::Key,
    );
    section(&mut out, "Slot states");
    for (k, v) in STATES {
        item(&mut out, k, v, Tone::State);
    }
    section(&mut out, "Slot list markers");
    for (k, v) in MARKERS {
        item(&mut out, k, v, Tone::Marker);
    }
    section(&mut out, "Daemons");
    for (k, v) in DAEMONS {
        item(&mut out, k, v, Tone::State);
    }
    section(&mut out, "Alarms");
    for (k, v) in KINDS {
        item(&mut out, k, v, Tone::Alarm);
    }
    out.push(Vec::new());
    for l in words(
        "forge-top maps the segment read-only (O_RDONLY, PROT_READ): it cannot write to the ring. The only thing it ever sends is b's SIGUSR1, to a producer it has proven holds the role.",
        width.saturating_sub(2),
    ) {
        out.push(vec![(Tone::Note, format!("  {l}"))]);
    }
    out
}

/// The help's lines as plain text at `width` columns.
pub fn text(width: u16) -> String {
    lines(width)
        .iter()
        .map(|l| l.iter().map(|(_, s)| s.as_str()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows of help text the overlay shows on a screen of `size`, and its
/// width in columns (inside its border).
pub fn window(size: (u16, u16)) -> (u16, u16) {
    let popup = layout::screen(size, Focus::default()).help();
    (
        popup.height.saturating_sub(2),
        popup.width.saturating_sub(2),
    )
}

/// How far the help can scroll on a screen of `size`.
pub fn max_scroll(size: (u16, u16)) -> u16 {
    let (rows, width) = window(size);
    (lines(width).len() as u16).saturating_sub(rows)
}
