//! Alarms and events: the active alarms first, then the log, newest first,
//! each with its UTC time and coloured by severity.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::alarms::Severity;
use crate::app::App;
use crate::model::human;

use super::{block, theme};

/// Draws the pane.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let active = &app.alarms.active;
    let title = if active.is_empty() {
        "Alarms & events (UTC) · none active".to_string()
    } else {
        format!("Alarms & events (UTC) · {} ACTIVE", active.len())
    };
    let mut outer = block(&title, app);
    if let Some(worst) = app.alarms.worst() {
        if worst >= Severity::Warning {
            outer = outer.border_style(theme::severity(worst));
        }
    }
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let mut lines: Vec<Line> = active
        .iter()
        .map(|a| {
            let style = theme::severity(a.severity).add_modifier(Modifier::REVERSED);
            Line::from(vec![
                Span::styled(
                    format!("{} ", human::time_of_day(a.since_unix_ns)),
                    theme::label(),
                ),
                Span::styled(format!(" ▲ {} ", a.text), style),
            ])
        })
        .collect();
    let room = usize::from(inner.height).saturating_sub(lines.len());
    lines.extend(app.alarms.log.iter().rev().take(room).map(|e| {
        let mark = match e.severity {
            Severity::Critical => "▲",
            Severity::Warning => "!",
            Severity::Info => "·",
        };
        Line::from(vec![
            Span::styled(
                format!("{} ", human::time_of_day(e.unix_ns)),
                theme::label(),
            ),
            Span::styled(format!("{mark} {}", e.text), theme::severity(e.severity)),
        ])
    }));
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "nothing yet",
            Style::new().fg(Color::DarkGray),
        )));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
