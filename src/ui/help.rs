//! The help overlay: every key (from the one binding table), every slot
//! state and marker, every daemon column and status, and every kind of
//! alarm. It scrolls; Esc, `?` or `q` close it and do nothing else.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui::Frame;

use super::{words, Theme};
use crate::alarms::KINDS;
use crate::app::App;
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

/// Every line of the help at `width` columns.
pub fn lines(width: u16, t: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let section = |out: &mut Vec<Line<'static>>, name: &str| {
        if !out.is_empty() {
            out.push(Line::raw(""));
        }
        out.push(Line::from(Span::styled(name.to_owned(), t.title)));
    };
    let item = |out: &mut Vec<Line<'static>>, term: &str, what: &str, style: Style| {
        let room = usize::from(width).saturating_sub(TERM_W + 2);
        let wide_term = unicode_width::UnicodeWidthStr::width(term) + 1 > TERM_W;
        if wide_term {
            out.push(Line::from(Span::styled(format!("  {term}"), style)));
        }
        for (i, l) in words(what, room as u16).into_iter().enumerate() {
            let head = if i == 0 && !wide_term {
                format!("  {term:<TERM_W$}")
            } else {
                " ".repeat(TERM_W + 2)
            };
            out.push(Line::from(vec![
                Span::styled(head, style),
                Span::styled(l, t.value),
            ]));
        }
    };
    section(&mut out, "Keys");
    for b in BINDINGS.iter().filter(|b| b.when != When::Recording) {
        let help = if b.when == When::Live {
            format!("{} (live only)", b.help)
        } else {
            b.help.to_owned()
        };
        item(&mut out, b.keys, &help, t.warn);
    }
    item(
        &mut out,
        "Esc",
        "close this help, a prompt or the picker; clear a search",
        t.warn,
    );
    item(
        &mut out,
        "mouse",
        "the wheel scrolls the focused panel; a click selects a slot",
        t.warn,
    );
    section(&mut out, "Recordings (forge-top --file FILE.mcap)");
    for b in BINDINGS.iter().filter(|b| b.when == When::Recording) {
        item(&mut out, b.keys, b.help, t.warn);
    }
    item(
        &mut out,
        ":",
        "moves the cursor to a sequence number, or a time of day like 12:00:03.5",
        t.warn,
    );
    section(&mut out, "Slot states");
    for (k, v) in STATES {
        item(&mut out, k, v, t.accent);
    }
    section(&mut out, "Slot list markers");
    for (k, v) in MARKERS {
        item(&mut out, k, v, t.accent2);
    }
    section(&mut out, "Daemons");
    for (k, v) in DAEMONS {
        item(&mut out, k, v, t.accent);
    }
    section(&mut out, "Alarms");
    for (k, v) in KINDS {
        item(&mut out, k, v, t.bad);
    }
    out.push(Line::raw(""));
    for l in words(
        "forge-top maps the segment read-only (O_RDONLY, PROT_READ): it cannot write to the ring. The only thing it ever sends is b's SIGUSR1, to a producer it has proven holds the role.",
        width.saturating_sub(2),
    ) {
        out.push(Line::from(Span::styled(format!("  {l}"), t.label)));
    }
    out
}

/// Where the overlay goes in the body `area`, and its text width.
fn popup(area: Rect) -> (Rect, u16) {
    let w = area.width.min(100);
    let [popup] = Layout::horizontal([Constraint::Length(w)])
        .flex(Flex::Center)
        .areas(area);
    (popup, w.saturating_sub(2))
}

/// How far the help can scroll on a screen of `size`.
pub fn max_scroll(size: (u16, u16)) -> u16 {
    let app = App::new(crate::app::Config::default(), size);
    let a = super::areas(Rect::new(0, 0, size.0, size.1), &app);
    let body = Rect::new(0, a.ring.y, size.0, a.status.y.saturating_sub(a.ring.y));
    let (popup, text_w) = popup(body);
    let visible = popup.height.saturating_sub(2);
    let n = lines(text_w, &Theme::default()).len() as u16;
    n.saturating_sub(visible)
}

/// Draws the overlay in the body `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let (popup, text_w) = popup(area);
    frame.render_widget(Clear, area);
    let all = lines(text_w, t);
    let visible = usize::from(popup.height.saturating_sub(2));
    let first = usize::from(app.help_scroll).min(all.len().saturating_sub(visible));
    let shown: Vec<Line> = all.iter().skip(first).take(visible).cloned().collect();
    let footer = format!(
        " lines {}-{} of {} · ↑↓ PgUp PgDn scroll · Esc ? q close ",
        first + 1,
        (first + visible).min(all.len()),
        all.len()
    );
    let footer = [footer, " Esc close ".to_owned()]
        .into_iter()
        .find(|f| unicode_width::UnicodeWidthStr::width(f.as_str()) + 2 <= usize::from(popup.width))
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(shown).block(
            Block::bordered()
                .border_type(BorderType::Rounded)
                .border_style(t.border_focus)
                .title(Span::styled(" forge-top help ", t.title))
                .title_bottom(Span::styled(footer, t.label)),
        ),
        popup,
    );
}
