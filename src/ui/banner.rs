//! The alarm banner: the worst active alarm on a coloured bar, so it cannot
//! be missed, or a quiet line saying all checks pass.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::alarms::Severity;
use crate::app::App;
use crate::model::Link;

/// Draws the banner.
pub fn render(frame: &mut Frame, area: Rect, app: &App) {
    let active = &app.alarms.active;
    let line = match active.first() {
        Some(worst) => {
            let (fg, bg) = match worst.severity {
                Severity::Critical => (Color::White, Color::Red),
                Severity::Warning => (Color::Black, Color::Yellow),
                Severity::Info => (Color::Black, Color::Cyan),
            };
            let style = Style::new().fg(fg).bg(bg).add_modifier(Modifier::BOLD);
            let count = if active.len() == 1 {
                " ▲ ALARM ".to_string()
            } else {
                format!(" ▲ {} ALARMS ", active.len())
            };
            let more = if active.len() > 1 {
                format!("  (+{} more below)", active.len() - 1)
            } else {
                String::new()
            };
            let text = format!("{count} {}{more}", worst.text);
            let pad = (area.width as usize).saturating_sub(text.chars().count());
            Line::from(Span::styled(format!("{text}{}", " ".repeat(pad)), style))
        }
        None => match app.view().link {
            Link::Attached => Line::from(Span::styled(
                " ✓ no alarms: session matches, daemons alive and beating, invariants hold",
                Style::new().fg(Color::Green),
            )),
            _ => Line::from(Span::styled(
                " … not attached",
                Style::new().fg(Color::Yellow),
            )),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}
