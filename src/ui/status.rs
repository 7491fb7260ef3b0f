//! The status line: the last message, or the main keys.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::App;

use super::theme;

const KEYS: [(&str, &str); 9] = [
    ("q", "quit"),
    ("?", "help"),
    ("space", "pause"),
    ("↑↓", "step"),
    ("t/h", "tail/head"),
    ("f", "follow"),
    ("x", "hex"),
    ("b", "burst"),
    ("s", "save"),
];

/// Draws the line.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let mut spans = Vec::new();
    if app.paused() {
        spans.push(Span::styled(
            format!(" PAUSED · {} samples since ", app.paused_samples),
            Style::new()
                .fg(Color::Black)
                .bg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::raw(" "));
    }
    match &app.status {
        Some((severity, text)) => {
            spans.push(Span::styled(format!(" {text}"), theme::severity(*severity)));
        }
        None => {
            for (k, what) in KEYS {
                spans.push(Span::styled(
                    format!(" {k} "),
                    Style::new().fg(Color::Black).bg(Color::DarkGray),
                ));
                spans.push(Span::styled(format!(" {what} "), theme::label()));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
