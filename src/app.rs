//! The app: state, key handling, and the loop that ties events to frames.
//!
//! The loop is generic over the ratatui [`Backend`] and over the
//! [`EventSource`], so a test drives the whole app on a `TestBackend` with
//! scripted keys and synthetic observations. Side effects (signals, files)
//! go through [`Effects`], so tests can record them instead.

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::Terminal;

use crate::alarms::{Alarms, Severity, Thresholds};
use crate::event::{Event, EventSource};
use crate::model::*;

/// Points kept in each history.
pub const HISTORY: usize = 300;

/// Settings fixed at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Segment name.
    pub segment: String,
    /// Sampling period.
    pub refresh: Duration,
    /// Alarm thresholds.
    pub thresholds: Thresholds,
    /// Where `s` writes bundles.
    pub screenshot_dir: std::path::PathBuf,
    /// Set when forge-top started the daemons itself.
    pub demo: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            segment: crate::source::DEFAULT_SEGMENT.into(),
            refresh: Duration::from_millis(100),
            thresholds: Thresholds::default(),
            screenshot_dir: "screenshots".into(),
            demo: false,
        }
    }
}

/// Rates from index and counter deltas.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Rates {
    /// Frames published per second (head delta).
    pub frames_per_s: f64,
    /// Frames released per second (tail delta).
    pub consumed_per_s: f64,
    /// Payload bytes committed per second (producer counter delta).
    pub bytes_per_s: f64,
    /// Highest `frames_per_s` seen in this session.
    pub peak_frames_per_s: f64,
    /// Highest `bytes_per_s` seen in this session.
    pub peak_bytes_per_s: f64,
}

/// Histories for the sparklines, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Fill level, per mille.
    pub fill: VecDeque<u64>,
    /// Frames per second.
    pub frames: VecDeque<u64>,
    /// Bytes per second.
    pub bytes: VecDeque<u64>,
}

impl History {
    fn push(q: &mut VecDeque<u64>, v: u64) {
        if q.len() == HISTORY {
            q.pop_front();
        }
        q.push_back(v);
    }
}

/// What is on screen: frozen while paused, live otherwise.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    /// How the source is attached.
    pub link: Link,
    /// Why waiting or lost.
    pub reason: Option<String>,
    /// The last good sample (kept when the segment is lost).
    pub sample: Option<Sample>,
    /// When `sample` was taken, ns since the Unix epoch.
    pub sample_unix_ns: u64,
    /// When the last observation came, ns since the Unix epoch.
    pub unix_ns: u64,
    /// Slot list rows.
    pub slots: Vec<SlotView>,
    /// The selected slot, whole.
    pub detail: Option<SlotView>,
    /// Rates.
    pub rates: Rates,
    /// Histories.
    pub history: History,
    /// forge-top itself.
    pub me: SelfInfo,
    /// forge-top's CPU use, percent of one core.
    pub me_cpu_pct: f64,
}

/// How the selected slot is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetailMode {
    /// Frame fields.
    #[default]
    Decoded,
    /// Hex and ASCII.
    Hex,
}

/// A side effect the loop carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send SIGUSR1 to this producer pid.
    Burst(u32),
    /// Save a screenshot bundle of the next frame.
    Screenshot,
}

/// Carries out effects.
pub trait Effects {
    /// Sends the burst signal; returns a status line.
    fn burst(&mut self, pid: u32) -> Result<String, String>;
    /// Saves a bundle of `buffer`; returns a status line.
    fn screenshot(&mut self, app: &App, buffer: &Buffer) -> Result<String, String>;
}

/// Effects that do nothing but remember what was asked, for tests.
#[derive(Debug, Default)]
pub struct RecordedEffects {
    /// Every effect asked for, in order.
    pub asked: Vec<Effect>,
    /// Text of each screenshot taken.
    pub screenshots: Vec<String>,
}

impl Effects for RecordedEffects {
    fn burst(&mut self, pid: u32) -> Result<String, String> {
        self.asked.push(Effect::Burst(pid));
        Ok(format!("sent SIGUSR1 to producer pid {pid}"))
    }

    fn screenshot(&mut self, _app: &App, buffer: &Buffer) -> Result<String, String> {
        self.asked.push(Effect::Screenshot);
        self.screenshots.push(crate::export::buffer_text(buffer));
        Ok("saved screenshot".into())
    }
}

/// The whole app state.
#[derive(Debug, Clone)]
pub struct App {
    /// Settings.
    pub config: Config,
    /// Current refresh (changed with `+`/`-`).
    pub refresh: Duration,
    /// The latest data.
    pub live: View,
    /// The view when paused.
    pub frozen: Option<View>,
    /// Observations since the pause.
    pub paused_samples: u64,
    /// Alarms and the event log (always live).
    pub alarms: Alarms,
    /// Selected slot.
    pub selected: u32,
    /// First slot of the list.
    pub list_first: u32,
    /// Select the newest frame on every sample.
    pub follow: bool,
    /// Decoded or hex.
    pub detail_mode: DetailMode,
    /// Help overlay shown.
    pub help: bool,
    /// Status line message.
    pub status: Option<(Severity, String)>,
    /// Terminal size.
    pub size: (u16, u16),
    /// Quit requested.
    pub quit: bool,
    /// Effects to carry out.
    pub effects: Vec<Effect>,
    /// Observations handled.
    pub samples: u64,
    slots_dirty: bool,
    prev: Option<Prev>,
    /// (CLOCK_MONOTONIC ns, our CPU time ns) over the last seconds.
    cpu_history: VecDeque<(u64, u64)>,
}

#[derive(Debug, Clone, Copy)]
struct Prev {
    mono_ns: u64,
    session: u64,
    head: u64,
    tail: u64,
    bytes: u64,
}

impl App {
    /// A fresh app for a terminal of `size`.
    pub fn new(config: Config, size: (u16, u16)) -> Self {
        App {
            refresh: config.refresh,
            config,
            live: View::default(),
            frozen: None,
            paused_samples: 0,
            alarms: Alarms::default(),
            selected: 0,
            list_first: 0,
            follow: true,
            detail_mode: DetailMode::Decoded,
            help: false,
            status: None,
            size,
            quit: false,
            effects: Vec::new(),
            samples: 0,
            slots_dirty: false,
            prev: None,
            cpu_history: VecDeque::new(),
        }
    }

    /// What is on screen.
    pub fn view(&self) -> &View {
        self.frozen.as_ref().unwrap_or(&self.live)
    }

    /// Is the view frozen?
    pub fn paused(&self) -> bool {
        self.frozen.is_some()
    }

    /// The sampling period.
    pub fn refresh(&self) -> Duration {
        self.refresh
    }

    /// The selection moved: sample the slots now rather than at the next tick.
    pub fn wants_slots(&self) -> bool {
        self.slots_dirty
    }

    fn slot_count(&self) -> u32 {
        self.live.sample.as_ref().map_or(0, |s| s.slot_count())
    }

    /// Rows the slot list shows at the current size.
    pub fn list_rows(&self) -> u32 {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        u32::from(crate::ui::areas(area).slot_rows())
    }

    /// Which slots the source should copy next.
    pub fn slot_request(&self) -> SlotRequest {
        SlotRequest {
            first: self.list_first,
            count: self.list_rows(),
            selected: Some(self.selected),
            follow: self.follow && !self.paused(),
        }
    }

    /// Handles one event; returns whether the screen may have changed.
    pub fn handle(&mut self, event: Event) -> bool {
        match event {
            Event::Key(key) => self.key(key),
            Event::Mouse(m) => self.mouse(m),
            Event::Resize(w, h) => {
                self.size = (w, h);
                self.rescroll();
            }
            Event::Data(obs) => self.observe(*obs),
            Event::Stop => self.quit = true,
        }
        true
    }

    /// All keys, in one place.
    fn key(&mut self, key: KeyEvent) {
        let n = self.slot_count();
        let page = self.list_rows().max(1);
        let help_was_open = self.help;
        self.help = false;
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = !help_was_open,
            KeyCode::Esc => {}
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::PageUp => self.step(-i64::from(page)),
            KeyCode::PageDown => self.step(i64::from(page)),
            KeyCode::Home | KeyCode::Char('g') => self.select(0),
            KeyCode::End | KeyCode::Char('G') => self.select(n.saturating_sub(1)),
            KeyCode::Char('t') => {
                if let Some(s) = &self.view().sample {
                    let tail_slot = slot_of(s.tail(), s.slot_count());
                    self.select(tail_slot);
                    self.note(Severity::Info, format!("jumped to tail: slot {tail_slot}"));
                }
            }
            KeyCode::Char('h') => {
                if let Some(s) = &self.view().sample {
                    let head_slot = slot_of(s.head(), s.slot_count());
                    self.select(head_slot);
                    self.note(Severity::Info, format!("jumped to head: slot {head_slot}"));
                }
            }
            KeyCode::Char('f') => {
                self.follow = !self.follow;
                self.slots_dirty = true;
                let what = if self.follow {
                    "on: the newest frame stays selected"
                } else {
                    "off"
                };
                self.note(Severity::Info, format!("follow {what}"));
            }
            KeyCode::Char('x') => {
                self.detail_mode = match self.detail_mode {
                    DetailMode::Decoded => DetailMode::Hex,
                    DetailMode::Hex => DetailMode::Decoded,
                }
            }
            KeyCode::Char(' ') => self.toggle_pause(),
            KeyCode::Char('b') => self.burst(),
            KeyCode::Char('s') => self.effects.push(Effect::Screenshot),
            KeyCode::Char('c') => {
                self.alarms.log.clear();
                self.note(Severity::Info, "event log cleared".into());
            }
            KeyCode::Char('+') | KeyCode::Char('=') => self.set_refresh(self.refresh / 2),
            KeyCode::Char('-') => self.set_refresh(self.refresh * 2),
            _ => {}
        }
    }

    fn mouse(&mut self, m: MouseEvent) {
        let areas = crate::ui::areas(Rect::new(0, 0, self.size.0, self.size.1));
        match m.kind {
            MouseEventKind::ScrollUp => self.step(-3),
            MouseEventKind::ScrollDown => self.step(3),
            MouseEventKind::Down(MouseButton::Left) => {
                let list = areas.slot_list_inner();
                if list.contains(Position::new(m.column, m.row)) {
                    let i = self.list_first + u32::from(m.row - list.y);
                    if i < self.slot_count() {
                        self.select(i);
                    }
                }
            }
            _ => {}
        }
    }

    fn set_refresh(&mut self, d: Duration) {
        self.refresh = d.clamp(Duration::from_millis(25), Duration::from_secs(5));
        self.note(
            Severity::Info,
            format!("refresh every {} ms", self.refresh.as_millis()),
        );
    }

    fn note(&mut self, severity: Severity, text: String) {
        self.status = Some((severity, text));
    }

    fn step(&mut self, by: i64) {
        let n = self.slot_count();
        if n == 0 {
            return;
        }
        let i = (i64::from(self.selected) + by).rem_euclid(i64::from(n));
        self.select(i as u32);
    }

    fn select(&mut self, i: u32) {
        self.follow = false;
        self.selected = i;
        self.slots_dirty = true;
        self.rescroll();
    }

    fn rescroll(&mut self) {
        self.list_first = scroll_to(
            self.list_first,
            self.list_rows(),
            self.selected,
            self.slot_count(),
        );
    }

    fn toggle_pause(&mut self) {
        if self.frozen.take().is_some() {
            self.note(
                Severity::Info,
                format!(
                    "resumed ({} samples taken while paused)",
                    self.paused_samples
                ),
            );
        } else {
            self.frozen = Some(self.live.clone());
            self.paused_samples = 0;
            self.note(
                Severity::Info,
                "paused: view frozen, sampling and alarms go on; space resumes".into(),
            );
        }
    }

    fn burst(&mut self) {
        let producer = self.live.sample.as_ref().map(|s| s.side(Role::Producer));
        match producer {
            Some(p)
                if p.line.role_state == RoleState::Active
                    && p.holder.alive == Some(true)
                    && p.holder.verified =>
            {
                self.effects.push(Effect::Burst(p.line.pid))
            }
            Some(p) if p.holder.alive == Some(true) => self.note(
                Severity::Warning,
                format!(
                    "no burst: {}; forge-top signals only a process it can prove holds the role",
                    p.holder
                        .holder_note
                        .as_deref()
                        .unwrap_or("the producer could not be proven to be this process")
                ),
            ),
            Some(p) if p.line.pid != 0 => self.note(
                Severity::Warning,
                format!("no burst: producer pid {} is not alive", p.line.pid),
            ),
            _ => self.note(
                Severity::Warning,
                "no burst: there is no live producer".into(),
            ),
        }
    }

    /// Takes one observation into the live view (and the alarms).
    pub fn observe(&mut self, obs: Observation) {
        self.samples += 1;
        self.alarms.update(&obs, self.config.thresholds);
        let v = &mut self.live;
        v.link = obs.link.clone();
        v.reason = obs.reason.clone();
        v.unix_ns = obs.unix_ns;
        v.me = obs.me.clone();
        // Our CPU time ticks at 10 ms: average it over a few seconds.
        self.cpu_history
            .push_back((obs.mono_ns, obs.me.cpu_time_ns));
        while self
            .cpu_history
            .get(1)
            .is_some_and(|(t, _)| obs.mono_ns.saturating_sub(*t) >= 5_000_000_000)
        {
            self.cpu_history.pop_front();
        }
        if let (Some(a), Some(b)) = (self.cpu_history.front(), self.cpu_history.back()) {
            let dt = b.0.saturating_sub(a.0);
            if dt > 0 {
                v.me_cpu_pct = b.1.saturating_sub(a.1) as f64 * 100.0 / dt as f64;
            }
        }

        if let Some(s) = &obs.sample {
            let prev = self.prev.filter(|p| p.session == s.session_id());
            if prev.is_none() {
                v.rates = Rates::default();
            }
            // Rates need a real interval: selection moves sample early.
            let min_dt = (self.refresh.as_nanos() as u64 / 2).max(1);
            // The previous sample moves only when a rate was computed (or
            // there was none): a too-short interval leaves it in place.
            let advance = match prev {
                Some(p) if obs.mono_ns.saturating_sub(p.mono_ns) >= min_dt => {
                    let dt = (obs.mono_ns - p.mono_ns) as f64 / 1e9;
                    let r = &mut v.rates;
                    r.frames_per_s = s.head().saturating_sub(p.head) as f64 / dt;
                    r.consumed_per_s = s.tail().saturating_sub(p.tail) as f64 / dt;
                    r.bytes_per_s = s.header.producer.bytes.saturating_sub(p.bytes) as f64 / dt;
                    r.peak_frames_per_s = r.peak_frames_per_s.max(r.frames_per_s);
                    r.peak_bytes_per_s = r.peak_bytes_per_s.max(r.bytes_per_s);
                    History::push(&mut v.history.frames, r.frames_per_s as u64);
                    History::push(&mut v.history.bytes, r.bytes_per_s as u64);
                    true
                }
                Some(_) => false,
                None => true,
            };
            if advance {
                History::push(&mut v.history.fill, (s.fill_ratio() * 1000.0) as u64);
                self.prev = Some(Prev {
                    mono_ns: obs.mono_ns,
                    session: s.session_id(),
                    head: s.head(),
                    tail: s.tail(),
                    bytes: s.header.producer.bytes,
                });
            }
            v.sample = obs.sample.clone();
            v.sample_unix_ns = obs.unix_ns;
            v.slots = obs.slots.clone();
            v.detail = obs.detail.clone();
        } else if obs.link == Link::Waiting && v.sample.is_none() {
            v.slots.clear();
            v.detail = None;
        }
        // A lost segment keeps its last good sample and slots on screen.

        if self.follow && !self.paused() {
            if let Some(d) = &obs.detail {
                self.selected = d.index;
            }
            if let Some(first) = obs.slots.first() {
                self.list_first = first.index;
            }
        }
        if let Some(f) = &mut self.frozen {
            self.paused_samples += 1;
            if self.slots_dirty && obs.sample.is_some() {
                f.slots = obs.slots;
                f.detail = obs.detail;
            }
        }
        self.slots_dirty = false;
        let n = self.slot_count();
        if n > 0 && self.selected >= n {
            self.selected = 0;
        }
        self.rescroll();
    }
}

fn slot_of(pos: u64, slot_count: u32) -> u32 {
    if slot_count == 0 {
        0
    } else {
        (pos % u64::from(slot_count)) as u32
    }
}

/// Runs the app until it quits or the events end.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut impl EventSource,
    effects: &mut impl Effects,
) -> std::io::Result<()> {
    let mut dirty = true;
    loop {
        if dirty {
            let completed = terminal.draw(|f| crate::ui::render(f, app))?;
            if app.effects.contains(&Effect::Screenshot) {
                app.effects.retain(|e| *e != Effect::Screenshot);
                let buffer = completed.buffer.clone();
                let result = effects.screenshot(app, &buffer);
                app.status = Some(match result {
                    Ok(m) => (Severity::Info, m),
                    Err(m) => (Severity::Critical, m),
                });
                continue;
            }
        }
        if app.quit {
            return Ok(());
        }
        let Some(event) = events.next(app)? else {
            return Ok(());
        };
        dirty = app.handle(event);
        for effect in std::mem::take(&mut app.effects) {
            match effect {
                Effect::Burst(pid) => {
                    app.status = Some(match effects.burst(pid) {
                        Ok(m) => (Severity::Info, m),
                        Err(m) => (Severity::Warning, m),
                    })
                }
                Effect::Screenshot => app.effects.push(Effect::Screenshot),
            }
        }
    }
}
