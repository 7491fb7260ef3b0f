//! The help overlay: every key.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui::Frame;

use crate::app::App;

use super::theme;

/// Every key and what it does, in the order shown.
pub const KEYS: &[(&str, &str)] = &[
    ("↑ / k, ↓ / j", "step to the previous / next slot"),
    ("PgUp / PgDn", "page through the slot list"),
    ("Home g / End G", "first / last slot"),
    ("mouse wheel", "scroll the slot list; click selects"),
    ("t", "jump to the tail (next frame the consumer reads)"),
    ("h", "jump to the head (next slot the producer writes)"),
    ("f", "follow the newest frame (on at start)"),
    ("x", "switch the slot view: decoded frame / hex + ASCII"),
    ("space", "pause: freeze the view; sampling and alarms go on"),
    ("b", "load burst: SIGUSR1 to the producer, never a write"),
    ("s", "save a screenshot bundle (SVG, text, JSON)"),
    ("+ / -", "sample faster / slower"),
    ("c", "clear the event log"),
    ("?", "this help; Esc or any key closes it"),
    ("q, Ctrl-C", "quit"),
];

/// Draws the overlay centred on `area`.
pub fn render(frame: &mut Frame, area: Rect, _app: &App) {
    let height = KEYS.len() as u16 + 5;
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(72)])
        .flex(Flex::Center)
        .areas(row);
    frame.render_widget(Clear, popup);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("  {k:<16}"), Style::new().fg(Color::Yellow)),
                Span::styled(*what, Style::new().fg(Color::White)),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "  forge-top maps the segment read-only: it cannot disturb the ring.",
        theme::label(),
    )));
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .border_type(BorderType::Rounded)
                .border_style(Style::new().fg(Color::Cyan))
                .title(Span::styled(" forge-top keys ", theme::title())),
        ),
        popup,
    );
}
