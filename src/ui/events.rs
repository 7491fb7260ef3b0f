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
use crate::app::{App, Focus, LogFilter};
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

/// Draws the pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let active = &app.alarms.active;
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
    let focused = app.focus == Focus::Events;
    let mut outer = block(&titles, app, t, area.width, focused);
    if let Some(worst) = app
        .alarms
        .worst()
        .filter(|&w| w >= Severity::Warning && !focused)
    {
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
    for a in active {
        let style = t.severity(a.severity).add_modifier(Modifier::BOLD);
        if !fits(
            &mut lines,
            entry(a.since_unix_ns, "▲", &a.text, style, w, t),
        ) {
            break;
        }
    }
    let log = app
        .alarms
        .log
        .iter()
        .rev()
        .filter(|e| app.log_filter.shows(e.severity))
        .skip(app.log_scroll);
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
        let text = if app.alarms.log.is_empty() {
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
