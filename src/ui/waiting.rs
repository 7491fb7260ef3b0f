//! The waiting screen: shown until a segment appears at the name.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::app::App;

use super::{block, theme};

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let spin = SPINNER[(app.samples % 4) as usize];
    let outer = block("Waiting", app);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let lines = vec![
        Line::raw(""),
        Line::from(vec![
            Span::styled(
                format!("  {spin} waiting for "),
                Style::new().fg(Color::Yellow),
            ),
            Span::styled(
                app.config.segment.clone(),
                Style::new().fg(Color::White).add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(
                    " — checking every {} ms, attaching as soon as it appears",
                    app.refresh.as_millis()
                ),
                Style::new().fg(Color::Yellow),
            ),
        ]),
        Line::raw(""),
        Line::from(Span::styled(
            format!("  {}", view.reason.as_deref().unwrap_or("not opened yet")),
            theme::value(),
        )),
        Line::raw(""),
        Line::from(Span::styled(
            "  To bring one up:  forge-init && (forge-stream & forge-core &)",
            theme::label(),
        )),
        Line::from(Span::styled(
            "  or everything at once:  forge-top --demo",
            theme::label(),
        )),
    ];
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}
