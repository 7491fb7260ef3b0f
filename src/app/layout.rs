//! Where each region of the screen goes, for a terminal of a given size:
//! the app needs it to know which slots are on screen (and so which to
//! sample) and what a click hits; the renderer draws into it. Also how text
//! breaks into lines, so the app and the screen agree on line counts.
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────────────────┐
//! │ title                                                                │ 1
//! │ info (≥ 22 rows)                                                     │ 1
//! │ banner                                                               │ 1
//! ├ ring ─────────────┬ throughput ────────────┬ latency ───────────────┤ 5-9
//! ├ daemons ──────────┴────────────────────────┴────────────────────────┤ 5-6
//! ├ slots ──────┬ detail ───────────────────────────────────────────────┤ rest
//! │             ├ events (when the body has ≥ 14 rows, or focused) ─────┤
//! ├─────────────┴───────────────────────────────────────────────────────┤
//! │ status                                                               │ 1
//! └──────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::layout::{Constraint, Flex, Layout, Rect};

/// Which panel the arrows move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Focus {
    /// The slot list (arrows move the selection).
    #[default]
    Slots,
    /// The selected slot (arrows scroll it).
    Detail,
    /// The event log (arrows scroll it).
    Events,
}

impl Focus {
    /// The panel after this one.
    pub fn next(self) -> Self {
        match self {
            Focus::Slots => Focus::Detail,
            Focus::Detail => Focus::Events,
            Focus::Events => Focus::Slots,
        }
    }
}

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

/// Cuts the screen into regions for its size and the focus (a small
/// screen gives the event log the detail's room when it has the focus).
pub fn areas(area: Rect, focus: Focus) -> Areas {
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
    } else if focus == Focus::Events {
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

impl Areas {
    /// Everything between the banner and the status line, where overlays
    /// (help, picker) and the waiting screen go.
    pub fn body(&self) -> Rect {
        Rect::new(
            self.ring.x,
            self.ring.y,
            self.title.width,
            self.status.y.saturating_sub(self.ring.y),
        )
    }

    /// The help overlay: centred in the body, at most 100 columns.
    pub fn help(&self) -> Rect {
        centred(self.body(), 100)
    }

    /// The segment picker: centred in the body, at most 140 columns.
    pub fn picker(&self) -> Rect {
        centred(self.body(), 140)
    }
}

/// `area` narrowed to at most `width` columns, centred.
pub fn centred(area: Rect, width: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(area.width.min(width))])
        .flex(Flex::Center)
        .areas(area);
    r
}

/// The regions of a whole screen of `size` (columns, rows).
pub fn screen(size: (u16, u16), focus: Focus) -> Areas {
    areas(Rect::new(0, 0, size.0, size.1), focus)
}

/// Which part of the host view the arrows move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostFocus {
    /// The ring table (arrows move the selection).
    #[default]
    Rings,
    /// The event log (arrows scroll it).
    Events,
}

/// Where each region of the host view goes.
///
/// ```text
/// │ title: HOST, rings by state, READ-ONLY, clock                        │ 1
/// │ info: refresh, sample time, forge-top's cost (≥ 22 rows)             │ 1
/// │ banner: the worst alarm of any ring                                  │ 1
/// ├ Rings ───────────────────────────────────────────────────────────────┤ rest
/// ├ Events (≥ 30 rows, or Tab to it) ────────────────────────────────────┤ 35 %
/// │ status                                                               │ 1
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostAreas {
    /// Title line.
    pub title: Rect,
    /// Info line (empty when there is no room).
    pub info: Rect,
    /// Alarm banner.
    pub banner: Rect,
    /// The ring table.
    pub table: Rect,
    /// The event log (empty when there is no room and no focus).
    pub events: Rect,
    /// Status line.
    pub status: Rect,
    /// Too small to draw anything whole.
    pub too_small: bool,
}

impl HostAreas {
    /// The table's rows without its border and header.
    pub fn table_inner(&self) -> Rect {
        let r = self.table;
        Rect::new(
            r.x.saturating_add(1),
            r.y.saturating_add(2),
            r.width.saturating_sub(2),
            r.height.saturating_sub(3),
        )
    }

    /// Ring rows that fit the table.
    pub fn table_rows(&self) -> u16 {
        self.table_inner().height
    }

    /// Everything between the banner and the status line.
    pub fn body(&self) -> Rect {
        Rect::new(
            self.title.x,
            self.banner.y.saturating_add(self.banner.height),
            self.title.width,
            self.status
                .y
                .saturating_sub(self.banner.y.saturating_add(self.banner.height)),
        )
    }
}

/// The host view's regions on a screen of `size`: the event log shares
/// the body from 30 rows, and takes half of it when focused below that.
pub fn host_screen(size: (u16, u16), focus: HostFocus) -> HostAreas {
    let (w, h) = size;
    if w < MIN_SIZE.0 || h < MIN_SIZE.1 {
        return HostAreas {
            too_small: true,
            ..HostAreas::default()
        };
    }
    let area = Rect::new(0, 0, w, h);
    let info_h = u16::from(h >= 22);
    let [title, info, banner, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(info_h),
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(1),
    ])
    .areas(area);
    let (table, events) = if h >= 30 {
        let [t, e] = Layout::vertical([Constraint::Min(6), Constraint::Percentage(35)]).areas(body);
        (t, e)
    } else if focus == HostFocus::Events {
        let [t, e] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(body);
        (t, e)
    } else {
        (body, Rect::default())
    };
    HostAreas {
        title,
        info,
        banner,
        table,
        events,
        status,
        too_small: false,
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

/// `text` on one line of `width` columns: whole if it fits, else `…` and
/// its last whole words (a message's end is its point: the path saved, the
/// range the ring holds).
pub(crate) fn one_line_end(text: &str, width: u16) -> String {
    use unicode_width::UnicodeWidthStr;
    if text.width() <= usize::from(width) {
        return text.to_owned();
    }
    let mut out = String::new();
    for word in text.split(' ').rev() {
        let next = if out.is_empty() {
            word.to_owned()
        } else {
            format!("{word} {out}")
        };
        if next.width() + 2 > usize::from(width) {
            break;
        }
        out = next;
    }
    // A space after the ellipsis: "…512" would read as a number cut.
    if width > 1 {
        out.insert_str(0, "… ");
    }
    out
}

/// Does `text` fit a line of `width` columns?
pub fn fits(text: &str, width: u16) -> bool {
    unicode_width::UnicodeWidthStr::width(text) <= usize::from(width)
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
