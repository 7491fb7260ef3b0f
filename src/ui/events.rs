//! Alarms and events: the active alarms first, then the log, newest first,
//! each with its UTC time and coloured by severity; filtered by level (`l`)
//! and scrolled when focused (Tab, then the arrows).

use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::draw::block;
use super::theme::Theme;
use crate::alarms::Severity;
use crate::app::layout::words;
use crate::app::{App, Focus, HostFocus, HostView, LogFilter};
use crate::model::human;

/// `HH:MM:SS.mmm `.
const TIME_W: usize = 13;

/// One entry: the time, then its text in whole words, continuation lines
/// under the text.
fn entry(
    unix_ns: u64,
    mark: &str,
    text: &str,
    style: Style,
    width: u16,
    t: &Theme,
) -> Vec<Line<'static>> {
    let time = format!("{:<TIME_W$}", human::time_of_day(unix_ns));
    let room = usize::from(width).saturating_sub(TIME_W);
    let wrapped = words(&format!("{mark} {text}"), room as u16);
    wrapped
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let head = if i == 0 {
                time.clone()
            } else {
                " ".repeat(TIME_W)
            };
            Line::from(vec![Span::styled(head, t.label), Span::styled(l, style)])
        })
        .collect()
}

/// What the pane shows: the active alarms, then the log.
struct Pane<'a> {
    /// Active alarms: when raised, how bad, what.
    active: Vec<(u64, Severity, String)>,
    log: &'a std::collections::VecDeque<crate::alarms::LogEntry>,
    scroll: usize,
    focused: bool,
}

/// Draws the ring view's pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let pane = Pane {
        active: app
            .alarms
            .active
            .iter()
            .map(|a| (a.since_unix_ns, a.severity, a.text.clone()))
            .collect(),
        log: &app.alarms.log,
        scroll: app.log_scroll,
        focused: app.focus == Focus::Events,
    };
    draw(frame, area, app, t, pane);
}

/// Draws the host view's pane: every ring's active alarms, named, then
/// the host's log.
pub fn render_host(frame: &mut Frame, area: Rect, app: &App, h: &HostView, t: &Theme) {
    let pane = Pane {
        active: h
            .alarms()
            .into_iter()
            .map(|(name, a)| (a.since_unix_ns, a.severity, format!("{name}: {}", a.text)))
            .collect(),
        log: &h.events.log,
        scroll: h.log_scroll,
        focused: h.focus == HostFocus::Events,
    };
    draw(frame, area, app, t, pane);
}

fn draw(frame: &mut Frame, area: Rect, app: &App, t: &Theme, pane: Pane<'_>) {
    let active = &pane.active;
    let state = if active.is_empty() {
        "none active".to_string()
    } else {
        format!("{} ACTIVE", active.len())
    };
    let filter = match app.log_filter {
        LogFilter::All => String::new(),
        other => format!(" · showing {}", other.name()),
    };
    let titles = [
        format!("Alarms & events (UTC) · {state}{filter} · l: level"),
        format!("Alarms & events (UTC) · {state}{filter}"),
        format!("Alarms & events · {state}"),
        format!("Events · {state}"),
        "Events".into(),
    ];
    let focused = pane.focused;
    let mut outer = block(&titles, app, t, area.width, focused);
    let worst = active.iter().map(|(_, s, _)| *s).max();
    if let Some(worst) = worst.filter(|&w| w >= Severity::Warning && !focused) {
        outer = outer.border_style(t.severity(worst));
    }
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let w = inner.width;
    let height = usize::from(inner.height);
    let mut lines: Vec<Line> = Vec::new();
    // An entry shows whole or not at all: half a sentence can mislead.
    let fits = |lines: &mut Vec<Line<'static>>, more: Vec<Line<'static>>| {
        let ok = lines.len() + more.len() <= height;
        if ok {
            lines.extend(more);
        }
        ok
    };
    for (since, severity, text) in active {
        let style = t.severity(*severity).add_modifier(Modifier::BOLD);
        if !fits(&mut lines, entry(*since, "▲", text, style, w, t)) {
            break;
        }
    }
    let log = pane
        .log
        .iter()
        .rev()
        .filter(|e| app.log_filter.shows(e.severity))
        .skip(pane.scroll);
    for e in log {
        let mark = match e.severity {
            Severity::Critical => "▲",
            Severity::Warning => "!",
            Severity::Info => "·",
        };
        if !fits(
            &mut lines,
            entry(e.unix_ns, mark, &e.text, t.severity(e.severity), w, t),
        ) {
            break;
        }
    }
    if lines.is_empty() {
        let text = if pane.log.is_empty() {
            "nothing yet"
        } else {
            "nothing at this level (l: show more)"
        };
        lines.extend(
            words(text, w)
                .into_iter()
                .map(|l| Line::from(Span::styled(l, t.label))),
        );
    }
    lines.truncate(height);
    super::draw::put_lines(frame, inner, lines);
}
