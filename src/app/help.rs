//! The help as data: every key (from the one binding table), every slot
//! state and marker, every daemon column and status, and every kind of
//! alarm, laid out at a width. The app needs its length to scroll it; the
//! screen gives each tone its colour.

use super::layout::{self, words, Focus};
use super::state::Screen;
use crate::alarms::KINDS;
use crate::keys::{When, BINDINGS, HOST};

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

/// The host view's columns.
const HOST_COLUMNS: &[(&str, &str)] = &[
    ("state", "live, retired (a re-initialization under way), initializing, not readable by you (another user's, or a mode that shuts you out: owner and mode on Enter), lost (it shrank under forge-top), or a layout this build does not read"),
    ("producer/consumer", "liveness as the ring view decides it (running, parked, STALLED, stopped, DEAD, vacant), pid and program"),
    ("frames/s bytes/s", "over the last sample interval, with a sparkline of frames/s"),
    ("fill", "slots in flight of all slots"),
    ("p99", "transit latency over the last second (- when no frame went through)"),
    ("alarm", "the ring's most severe active alarm, by the ring view's rules (+N: more); the banner shows the worst of the host, the event log every one"),
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

/// Every line of the help at `width` columns, the keys of `screen` first.
pub fn lines(width: u16, screen: Screen) -> Vec<HelpLine> {
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
    let host = |out: &mut Vec<HelpLine>| {
        section(out, "Host view (every ring: no segment chosen, or --all)");
        for b in HOST {
            item(out, &b.keys_text(), b.help, Tone::Key);
        }
        item(
            out,
            "mouse",
            "the wheel scrolls the table; a click selects a ring",
            Tone::Key,
        );
        for (k, v) in HOST_COLUMNS {
            item(out, k, v, Tone::State);
        }
    };
    if screen == Screen::Host {
        host(&mut out);
    }
    section(
        &mut out,
        if screen == Screen::Host {
            "Keys of the ring view (Enter on a ring)"
        } else {
            "Keys"
        },
    );
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
    if screen != Screen::Host {
        host(&mut out);
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
pub fn text(width: u16, screen: Screen) -> String {
    lines(width, screen)
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

/// How far the help of `screen` can scroll on a screen of `size`.
pub fn max_scroll(size: (u16, u16), screen: Screen) -> u16 {
    let (rows, width) = window(size);
    (lines(width, screen).len() as u16).saturating_sub(rows)
}
