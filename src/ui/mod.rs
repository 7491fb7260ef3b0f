//! Rendering: a pure function of [`App`]. One module per screen region, each
//! `fn render(frame, area, &app)`.
//!
//! ```text
//! ┌──────────────────────────────────────────────────────────────────────┐
//! │ title: name, session, age, state, READ-ONLY, FOLLOW/PAUSED, clock   │ 1
//! │ info: path, size, layout, geometry, init pid, created               │ 1
//! │ banner: the worst active alarm, or "no alarms"                      │ 1
//! ├ Ring ─────────────┬ Throughput ────────────┬ Latency ───────────────┤
//! │ head, tail,       │ frames/s, bytes/s,     │ p50 … max, bar chart   │ 9
//! │ gauge, sparkline  │ peak, sparkline        │                        │
//! ├ Daemons ──────────┴────────────────────────┴────────────────────────┤
//! │ producer / consumer / forge-top                                     │ 6
//! ├ Slots ──────┬ Slot N (decoded | hex) ───────────────────────────────┤
//! │ idx state   │                                                       │ rest
//! │ seq len T/H ├ Alarms & events ──────────────────────────────────────┤
//! │             │ active alarms, then the log, newest first             │ 1/3
//! ├─────────────┴───────────────────────────────────────────────────────┤
//! │ status: keys, messages                                              │ 1
//! └──────────────────────────────────────────────────────────────────────┘
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::Frame;

use crate::app::App;
use crate::model::Link;

mod banner;
mod daemons;
mod detail;
mod events;
mod header;
mod help;
mod latency;
mod ring;
mod slots;
mod status;
mod throughput;
mod waiting;

/// Where each region goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Areas {
    /// Title line.
    pub title: Rect,
    /// Info line.
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
    /// Selected slot.
    pub detail: Rect,
    /// Alarms and event log.
    pub events: Rect,
    /// Status line.
    pub status: Rect,
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

/// Cuts the screen into regions. Used by rendering and by the app (the
/// slot list's height decides which slots are sampled).
pub fn areas(area: Rect) -> Areas {
    let [title, info, banner, top, daemons, bottom, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    let [ring, throughput, latency] = Layout::horizontal([
        Constraint::Percentage(28),
        Constraint::Percentage(32),
        Constraint::Percentage(40),
    ])
    .areas(top);
    let [slots, right] =
        Layout::horizontal([Constraint::Length(36), Constraint::Min(20)]).areas(bottom);
    let [detail, events] =
        Layout::vertical([Constraint::Min(6), Constraint::Percentage(40)]).areas(right);
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
    }
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App) {
    let a = areas(frame.area());
    header::render_title(frame, a.title, app);
    header::render_info(frame, a.info, app);
    banner::render(frame, a.banner, app);
    let view = app.view();
    if view.sample.is_none() {
        // Nothing ever attached: one big waiting panel where the data goes.
        let body = Rect::new(
            a.ring.x,
            a.ring.y,
            a.title.width,
            a.events.y.saturating_sub(a.ring.y),
        );
        waiting::render(frame, body, app);
    } else {
        ring::render(frame, a.ring, app);
        throughput::render(frame, a.throughput, app);
        latency::render(frame, a.latency, app);
        daemons::render(frame, a.daemons, app);
        slots::render(frame, a.slots, app);
        detail::render(frame, a.detail, app);
    }
    events::render(frame, a.events, app);
    status::render(frame, a.status, app);
    if app.help {
        help::render(frame, frame.area(), app);
    }
}

/// Shared styles.
pub(crate) mod theme {
    use super::*;

    pub fn title() -> Style {
        Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn label() -> Style {
        Style::new().fg(Color::DarkGray)
    }
    pub fn value() -> Style {
        Style::new().fg(Color::White)
    }
    pub fn good() -> Style {
        Style::new().fg(Color::Green)
    }
    pub fn warn() -> Style {
        Style::new().fg(Color::Yellow)
    }
    pub fn bad() -> Style {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn border(stale: bool) -> Style {
        if stale {
            Style::new().fg(Color::Red)
        } else {
            Style::new().fg(Color::DarkGray)
        }
    }
    pub fn severity(s: crate::alarms::Severity) -> Style {
        match s {
            crate::alarms::Severity::Info => Style::new().fg(Color::Cyan),
            crate::alarms::Severity::Warning => Style::new().fg(Color::Yellow),
            crate::alarms::Severity::Critical => {
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
            }
        }
    }
}

/// A bordered block with a title, red-bordered when the data is stale.
pub(crate) fn block(title: &str, app: &App) -> ratatui::widgets::Block<'static> {
    use ratatui::widgets::{Block, Borders};
    let stale = app.view().link == Link::Lost;
    Block::new()
        .borders(Borders::ALL)
        .border_style(theme::border(stale))
        .title(ratatui::text::Span::styled(
            format!(" {title} "),
            theme::title(),
        ))
}
