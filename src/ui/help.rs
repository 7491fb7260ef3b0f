//! The help overlay, drawn from the help's data ([`crate::app::help`]). It
//! scrolls; Esc, `?` or `q` close it and do nothing else.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui::Frame;

use super::theme::Theme;
use crate::app::help::{self, Tone};
use crate::app::layout::centred;
use crate::app::App;

fn style(tone: Tone, t: &Theme) -> Style {
    match tone {
        Tone::Title => t.title,
        Tone::Key => t.warn,
        Tone::State => t.accent,
        Tone::Marker => t.accent2,
        Tone::Alarm => t.bad,
        Tone::Text => t.value,
        Tone::Note => t.label,
    }
}

/// Draws the overlay in the body `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let popup = centred(area, 100);
    let text_w = popup.width.saturating_sub(2);
    frame.render_widget(Clear, area);
    let all: Vec<Line> = help::lines(text_w, app.screen)
        .into_iter()
        .map(|l| {
            Line::from(
                l.into_iter()
                    .map(|(tone, s)| Span::styled(s, style(tone, t)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
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
