//! What every region's renderer shares: lines laid out to fit, and the
//! bordered block with a title kept whole.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::theme::Theme;
use crate::app::layout::{words, MIN_SIZE};
use crate::app::App;
use crate::model::Link;

/// Draws `lines` top-down into `area`, one per row, each already laid out
/// to fit (by [`super::fit`] or [`crate::app::layout::words`]): no wrapping pass, and a line that would
/// not fit is clipped by the buffer, which the property test would catch.
pub fn put_lines<'a>(
    frame: &mut Frame,
    area: Rect,
    lines: impl IntoIterator<Item = impl Into<Line<'a>>>,
) {
    let buf = frame.buffer_mut();
    for (row, line) in (area.y..area.y.saturating_add(area.height)).zip(lines) {
        let line: Line = line.into();
        buf.set_line(area.x, row, &line, area.width);
    }
}

/// A bordered block whose title is kept whole (shortened by its forms, or
/// left out), red-bordered when the data is stale, cyan when focused.
pub fn block(titles: &[String], app: &App, t: &Theme, width: u16, focused: bool) -> Block<'static> {
    let stale = app.view().link == Link::Lost;
    let room = usize::from(width.saturating_sub(4));
    let title = titles
        .iter()
        .find(|s| unicode_width::UnicodeWidthStr::width(s.as_str()) + 2 <= room)
        .cloned();
    let border = if stale {
        t.border_lost
    } else if focused {
        t.border_focus
    } else {
        t.border
    };
    let block = Block::new().borders(Borders::ALL).border_style(border);
    match title {
        Some(title) => block.title(Span::styled(format!(" {title} "), t.title)),
        None => block,
    }
}

/// Below the smallest size: says so, and the size needed, instead of
/// anything cut.
pub fn too_small(frame: &mut Frame, t: &Theme) {
    let area = frame.area();
    let text = format!(
        "terminal too small: need at least {}×{}, have {}×{}",
        MIN_SIZE.0, MIN_SIZE.1, area.width, area.height
    );
    let lines: Vec<Line> = words(&text, area.width)
        .into_iter()
        .map(|l| Line::from(Span::styled(l, t.warn)))
        .collect();
    let y = area.height.saturating_sub(lines.len() as u16) / 2;
    let body = Rect::new(
        area.x,
        area.y + y,
        area.width,
        area.height.saturating_sub(y),
    );
    frame.render_widget(Paragraph::new(lines).centered(), body);
}
