//! Rendering: a pure function of [`App`]. One module per screen region, each
//! `fn render(frame, area, &app, &theme)`; [`fit`] keeps every number whole.
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────────────────┐
//! │ title: name, state, READ-ONLY, FOLLOW/FROZEN, DEMO, clock           │ 1
//! │ info: session, age, path, size, layout, geometry (≥ 22 rows)        │ 1
//! │ banner: the worst active alarm, or how the daemons are              │ 1
//! ├ Ring ─────────────┬ Throughput ────────────┬ Latency ───────────────┤
//! │ head, tail, fill  │ frames/s, bytes/s      │ percentiles, bars      │ 5-9
//! ├ Daemons ──────────┴────────────────────────┴────────────────────────┤
//! │ producer / consumer (columns by priority), forge-top's own line     │ 4-6
//! ├ Slots ──────┬ Slot N (decoded | hex) ───────────────────────────────┤
//! │ slot state  │                                                       │ rest
//! │ seq len T/H ├ Alarms & events (≥ 30 rows, or Tab to it) ────────────┤
//! ├─────────────┴───────────────────────────────────────────────────────┤
//! │ status: a prompt, a message, or the keys that fit                   │ 1
//! └──────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Below [`MIN_SIZE`] the screen says so instead of showing anything cut.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::app::{App, Focus};
use crate::model::Link;

mod banner;
mod daemons;
mod detail;
mod events;
pub mod fit;
mod header;
mod help;
mod latency;
mod picker;
mod ring;
mod slots;
mod status;
pub mod theme;
mod throughput;
mod waiting;

pub use theme::Theme;

/// The smallest terminal forge-top draws in: columns, rows.
pub const MIN_SIZE: (u16, u16) = (60, 18);

/// Where each region goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// Title line.
    pub title: Rect,
    /// Info line (empty when there is no room).
    pub info: Rect,
    /// Alarm banner.
    pub banner: Rect,
    /// Ring panel.
    pub ring: Rect,
    /// Throughput panel.
    pub throughput: Rect,
    /// Latency panel.
    pub latency: Rect,
    /// Daemons panel.
    pub daemons: Rect,
    /// Slot list.
    pub slots: Rect,
    /// Selected slot (empty when the event log has the room).
    pub detail: Rect,
    /// Alarms and event log (empty when there is no room and no focus).
    pub events: Rect,
    /// Status line.
    pub status: Rect,
    /// Too small to draw anything whole.
    pub too_small: bool,
}

impl Areas {
    /// The slot list without its border.
    pub fn slot_list_inner(&self) -> Rect {
        // Border on every side, and one header row.
        let r = self.slots;
        Rect::new(
            r.x.saturating_add(1),
            r.y.saturating_add(2),
            r.width.saturating_sub(2),
            r.height.saturating_sub(3),
        )
    }

    /// Slot rows that fit the list.
    pub fn slot_rows(&self) -> u16 {
        self.slot_list_inner().height
    }
}

/// Cuts the screen into regions for its size. Used by rendering and by the
/// app (the slot list's height decides which slots are sampled).
pub fn areas(area: Rect, app: &App) -> Areas {
    let (w, h) = (area.width, area.height);
    if w < MIN_SIZE.0 || h < MIN_SIZE.1 {
        return Areas {
            too_small: true,
            ..Areas::default()
        };
    }
    let info_h = u16::from(h >= 22);
    let top_h = match h {
        0..24 => 5,
        24..34 => 7,
        _ => 9,
    };
    let daemons_h = if h >= 30 { 6 } else { 5 };
    let [title, info, banner, top, daemons, bottom, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(info_h),
        Constraint::Length(1),
        Constraint::Length(top_h),
        Constraint::Length(daemons_h),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    let [ring, throughput, latency] = Layout::horizontal([
        Constraint::Percentage(30),
        Constraint::Percentage(31),
        Constraint::Percentage(39),
    ])
    .areas(top);
    let list_w = match w {
        0..100 => 34,
        100..160 => 42,
        _ => (w * 2 / 5).min(90),
    };
    let [slots, right] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(20)]).areas(bottom);
    // The event log shares the right column when there is room, and takes
    // it whole when focused on a small screen.
    let (detail, events) = if bottom.height >= 14 {
        let [d, e] =
            Layout::vertical([Constraint::Min(6), Constraint::Percentage(40)]).areas(right);
        (d, e)
    } else if app.focus == Focus::Events {
        (Rect::default(), right)
    } else {
        (right, Rect::default())
    };
    Areas {
        title,
        info,
        banner,
        ring,
        throughput,
        latency,
        daemons,
        slots,
        detail,
        events,
        status,
        too_small: false,
    }
}

/// How far the help overlay scrolls on a screen of `size`.
pub fn help_max_scroll(size: (u16, u16)) -> u16 {
    help::max_scroll(size)
}

/// The help as plain text at `width` columns (for tests and `--help`-like
/// uses).
pub fn help_text(width: u16) -> String {
    help::lines(width, &Theme::default())
        .iter()
        .map(|l| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App) {
    let t = Theme::default();
    let a = areas(frame.area(), app);
    if a.too_small {
        too_small(frame, &t);
        return;
    }
    header::render_title(frame, a.title, app, &t);
    if a.info.height > 0 {
        header::render_info(frame, a.info, app, &t);
    }
    banner::render(frame, a.banner, app, &t);
    status::render(frame, a.status, app, &t);
    // An overlay takes the whole body: panels half covered by it would show
    // numbers cut at its edge.
    let body = Rect::new(
        a.ring.x,
        a.ring.y,
        a.title.width,
        a.status.y.saturating_sub(a.ring.y),
    );
    if app.picker.is_some() {
        picker::render(frame, body, app, &t);
        return;
    }
    if app.help {
        help::render(frame, body, app, &t);
        return;
    }
    let view = app.view();
    if view.sample.is_none() {
        // Nothing ever attached: one big waiting panel where the data goes.
        waiting::render(frame, body, app, &t);
    } else {
        ring::render(frame, a.ring, app, &t);
        throughput::render(frame, a.throughput, app, &t);
        latency::render(frame, a.latency, app, &t);
        daemons::render(frame, a.daemons, app, &t);
        slots::render(frame, a.slots, app, &t);
        if a.detail.height > 0 {
            detail::render(frame, a.detail, app, &t);
        }
        if a.events.height > 0 {
            events::render(frame, a.events, app, &t);
        }
    }
}

fn too_small(frame: &mut Frame, t: &Theme) {
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

/// Draws `lines` top-down into `area`, one per row, each already laid out
/// to fit (by [`fit`] or [`words`]): no wrapping pass, and a line that would
/// not fit is clipped by the buffer, which the property test would catch.
pub(crate) fn put_lines<'a>(
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

/// `text` broken into lines of at most `width` columns at spaces; a word
/// longer than a line is shown as `…` rather than cut.
pub(crate) fn words(text: &str, width: u16) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let width = usize::from(width);
    if width == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let word = if word.width() > width { "…" } else { word };
        let need = if line.is_empty() {
            word.width()
        } else {
            line.width() + 1 + word.width()
        };
        if need > width && !line.is_empty() {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push(line);
    }
    out
}

/// `text` on one line of `width` columns: whole if it fits, else its first
/// whole words and `…`.
pub(crate) fn one_line(text: &str, width: u16) -> String {
    use unicode_width::UnicodeWidthStr;
    if text.width() <= usize::from(width) {
        return text.to_owned();
    }
    let mut out = String::new();
    for word in text.split(' ') {
        let next = if out.is_empty() {
            word.to_owned()
        } else {
            format!("{out} {word}")
        };
        if next.width() + 1 > usize::from(width) {
            break;
        }
        out = next;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// A bordered block whose title is kept whole (shortened by its forms, or
/// left out), red-bordered when the data is stale, cyan when focused.
pub(crate) fn block(
    titles: &[String],
    app: &App,
    t: &Theme,
    width: u16,
    focused: bool,
) -> Block<'static> {
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
