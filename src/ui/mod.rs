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
//! Below [`crate::app::layout::MIN_SIZE`] the screen says so instead of showing anything cut.

use ratatui::Frame;

use crate::app::layout::{areas, Areas};
use crate::app::{App, Screen};

mod banner;
mod daemons;
mod detail;
mod draw;
mod events;
pub mod fit;
mod header;
mod help;
pub mod host;
mod latency;
mod picker;
mod ring;
mod slots;
mod status;
pub mod theme;
mod throughput;
mod waiting;

pub use theme::Theme;

/// The help as plain text at `width` columns (for tests and `--help`-like
/// uses).
pub fn help_text(width: u16) -> String {
    crate::app::help::text(width, Screen::Ring)
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App) {
    let t = Theme::default();
    if app.on_host() {
        host::render(frame, app, &t);
        return;
    }
    let a = areas(frame.area(), app.focus);
    if a.too_small {
        draw::too_small(frame, &t);
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
    let body = a.body();
    if app.picker.is_some() {
        picker::render(frame, body, app, &t);
        return;
    }
    if app.help {
        help::render(frame, body, app, &t);
        return;
    }
    ring_screen(frame, &a, app, &t);
}

/// The ring's screen: its panels, or the waiting panel until it attaches.
fn ring_screen(frame: &mut Frame, a: &Areas, app: &App, t: &Theme) {
    if app.view().sample.is_none() {
        // Nothing ever attached: one big waiting panel where the data goes.
        waiting::render(frame, a.body(), app, t);
        return;
    }
    ring::render(frame, a.ring, app, t);
    throughput::render(frame, a.throughput, app, t);
    latency::render(frame, a.latency, app, t);
    daemons::render(frame, a.daemons, app, t);
    slots::render(frame, a.slots, app, t);
    if a.detail.height > 0 {
        detail::render(frame, a.detail, app, t);
    }
    if a.events.height > 0 {
        events::render(frame, a.events, app, t);
    }
}
