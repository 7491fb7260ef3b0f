//! The app: state, key handling, and the loop that ties events to frames.
//!
//! The loop is generic over the ratatui [`Backend`] and over the
//! [`EventSource`], so a test drives the whole app on a `TestBackend` with
//! scripted keys and synthetic observations. Side effects (signals, files,
//! listing segments) go through [`Effects`], so tests can record them.
//!
//! ```text
//!  Event::Data ─▶ observe: alarms (always live) ─▶ live view ─▶ rates, history
//!  Event::Key  ─▶ keys::action ─▶ act (one match) ─▶ selection, prompt, effects
//!  freeze      ─▶ the next observation brings the whole ring ─▶ frozen view
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use crate::alarms::{Alarms, Severity, Thresholds};
use crate::event::Event;
use crate::keys::{self, Action, REFRESH_PRESETS_MS};
use crate::model::*;

/// Points kept in each history.
pub const HISTORY: usize = 300;
/// How long a status message stays, ns.
const STATUS_NS: u64 = 5_000_000_000;

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
            screenshot_dir: std::env::temp_dir().join("forge-top"),
            demo: false,
        }
    }
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

/// What is on screen: frozen on demand, live otherwise.
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
    /// When `sample` was taken, CLOCK_MONOTONIC ns.
    pub sample_mono_ns: u64,
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
    /// Set when the data comes from a file.
    pub offline: Option<OfflineView>,
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
    fn next(self) -> Self {
        match self {
            Focus::Slots => Focus::Detail,
            Focus::Detail => Focus::Events,
            Focus::Events => Focus::Slots,
        }
    }
}

/// Which log lines the event panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFilter {
    /// Everything.
    #[default]
    All,
    /// Warnings and alarms.
    Warnings,
    /// Alarms only.
    Alarms,
}

impl LogFilter {
    /// Does the filter let a line of `severity` through?
    pub fn shows(self, severity: Severity) -> bool {
        match self {
            LogFilter::All => true,
            LogFilter::Warnings => severity >= Severity::Warning,
            LogFilter::Alarms => severity >= Severity::Critical,
        }
    }

    /// How the panel names it.
    pub fn name(self) -> &'static str {
        match self {
            LogFilter::All => "all",
            LogFilter::Warnings => "warnings+",
            LogFilter::Alarms => "alarms",
        }
    }
}

/// A line being typed at the bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// What it is for.
    pub kind: PromptKind,
    /// What was typed.
    pub text: String,
}

/// What a prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// A sequence number to jump to.
    Jump,
    /// A state, kind or text to find.
    Search,
}

/// A search over one copy of the whole ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// What was asked.
    pub query: String,
    /// Slot indices that match, in ring order; `None` until the copy came.
    pub matches: Option<Vec<u32>>,
    /// The matching slots as the copy held them (without their bytes): the
    /// filtered list shows these.
    pub rows: Vec<SlotView>,
    /// When the copy was taken, ns since the Unix epoch, and CLOCK_MONOTONIC.
    pub copied_unix_ns: u64,
    /// The same moment on CLOCK_MONOTONIC (frame ages are against it).
    pub copied_mono_ns: u64,
    /// Where `n`/`N` (and the arrows) stand in `matches`.
    pub at: usize,
    /// The first match the filtered list shows.
    pub first: usize,
}

impl Search {
    /// The matches, once the copy came and when there are any.
    pub fn hits(&self) -> Option<&[u32]> {
        self.matches.as_deref().filter(|m| !m.is_empty())
    }
}

/// The frozen view: one copy of the whole ring, browsed while sampling and
/// alarms go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Frozen {
    /// The screen as it was.
    pub view: View,
    /// Every slot, whole; `None` until the copy came.
    pub image: Option<RingImage>,
    /// Observations since.
    pub samples: u64,
}

/// A message on the status line, until the next key or a few seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// How bad.
    pub severity: Severity,
    /// What.
    pub text: String,
    /// CLOCK_MONOTONIC ns when set (0: no observation yet).
    pub at_mono_ns: u64,
}

/// The segment picker (`o`, or no segment to open at start).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Picker {
    /// What `/dev/shm` holds.
    pub entries: Vec<SegmentSummary>,
    /// The highlighted row.
    pub selected: usize,
    /// Why the list could not be read, if it could not.
    pub error: Option<String>,
}

/// A side effect the loop carries out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send SIGUSR1 to this producer pid.
    Burst(u32),
    /// Save a screenshot bundle of the next frame.
    Screenshot,
    /// List the segments for the picker.
    ListSegments,
    /// Save the frozen copy as a `.forge` image.
    SaveImage,
}

/// What handling an event did to the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Something on screen changed: draw.
    Redraw,
    /// Nothing to draw.
    Unchanged,
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
    /// The view while frozen.
    pub frozen: Option<Frozen>,
    /// Alarms and the event log (always live).
    pub alarms: Alarms,
    /// Selected slot.
    pub selected: u32,
    /// The ring position the selected slot held when it was selected: the
    /// producer may lap it while we look.
    pub selected_position: Option<u64>,
    /// First slot of the list.
    pub list_first: u32,
    /// Select the newest frame on every sample.
    pub follow: bool,
    /// Decoded or hex.
    pub detail_mode: DetailMode,
    /// First line of the detail shown.
    pub detail_scroll: u16,
    /// Which panel the arrows move.
    pub focus: Focus,
    /// Which log lines show.
    pub log_filter: LogFilter,
    /// Log lines scrolled past (0: the newest on top).
    pub log_scroll: usize,
    /// Help overlay shown.
    pub help: bool,
    /// Lines of the help scrolled past.
    pub help_scroll: u16,
    /// A line being typed.
    pub prompt: Option<Prompt>,
    /// The current search.
    pub search: Option<Search>,
    /// The segment picker, when open.
    pub picker: Option<Picker>,
    /// A segment picked to switch to, for the event source.
    pub switch_to: Option<String>,
    /// A move of an offline recording's cursor, for the event source.
    pub seek: Option<Seek>,
    /// Status line message.
    pub status: Option<Status>,
    /// Terminal size.
    pub size: (u16, u16),
    /// Quit requested.
    pub quit: bool,
    /// Effects to carry out.
    pub effects: Vec<Effect>,
    /// Observations handled.
    pub samples: u64,
    /// The next observation should copy the whole ring.
    want_ring: bool,
    slots_dirty: bool,
    prev: Option<Prev>,
    /// (CLOCK_MONOTONIC ns, our CPU time ns) over the last seconds.
    cpu_history: VecDeque<(u64, u64)>,
    last_mono_ns: u64,
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
            alarms: Alarms::default(),
            selected: 0,
            selected_position: None,
            list_first: 0,
            follow: true,
            detail_mode: DetailMode::Decoded,
            detail_scroll: 0,
            focus: Focus::Slots,
            log_filter: LogFilter::All,
            log_scroll: 0,
            help: false,
            help_scroll: 0,
            prompt: None,
            search: None,
            picker: None,
            switch_to: None,
            seek: None,
            status: None,
            size,
            quit: false,
            effects: Vec::new(),
            samples: 0,
            want_ring: false,
            slots_dirty: false,
            prev: None,
            cpu_history: VecDeque::new(),
            last_mono_ns: 0,
        }
    }

    /// What is on screen.
    pub fn view(&self) -> &View {
        self.frozen.as_ref().map_or(&self.live, |f| &f.view)
    }

    /// Does a search filter the slot list (it found something)?
    pub fn filtering(&self) -> bool {
        self.search.as_ref().is_some_and(|s| s.hits().is_some())
    }

    /// What keys apply to: a live segment, or a recording read offline.
    pub fn mode(&self) -> keys::When {
        match self.live.offline.as_ref().map(|o| o.kind) {
            Some(OfflineKind::Recording) => keys::When::Recording,
            Some(OfflineKind::Image) => keys::When::Always,
            None => keys::When::Live,
        }
    }

    fn seek(&mut self, to: Seek) {
        if self.mode() == keys::When::Recording {
            self.seek = Some(to);
            self.slots_dirty = true;
        } else {
            self.note(
                Severity::Info,
                "only a recording has a cursor: forge-top --file FILE.mcap".into(),
            );
        }
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
        self.slots_dirty || self.want_ring
    }

    fn slot_count(&self) -> u32 {
        self.view().sample.as_ref().map_or(0, |s| s.slot_count())
    }

    /// Rows the slot list shows at the current size.
    pub fn list_rows(&self) -> u32 {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        u32::from(crate::ui::areas(area, self).slot_rows())
    }

    /// Which slots the source should copy next.
    pub fn slot_request(&self) -> SlotRequest {
        SlotRequest {
            first: self.list_first,
            count: self.list_rows(),
            selected: Some(self.selected),
            follow: self.follow && !self.paused(),
            whole_ring: self.want_ring,
        }
    }

    /// The frozen copy as fabric made it, for a `.forge` image.
    pub fn frozen_raw(&self) -> Option<&forge_record::image::RingImage> {
        self.frozen
            .as_ref()
            .and_then(|f| f.image.as_ref())
            .and_then(|img| img.raw.as_deref())
    }

    /// The frozen image's copy of slot `i`, when frozen with one.
    pub fn frozen_slot(&self, i: u32) -> Option<&SlotView> {
        self.frozen
            .as_ref()
            .and_then(|f| f.image.as_ref())
            .and_then(|img| img.slots.get(i as usize))
    }

    /// Handles one event.
    pub fn handle(&mut self, event: Event) -> Outcome {
        match event {
            Event::Key(key) => self.key(key),
            Event::Mouse(m) => self.mouse(m),
            Event::Resize(w, h) => {
                self.size = (w, h);
                self.rescroll();
                Outcome::Redraw
            }
            Event::Data(obs) => {
                self.observe(*obs);
                Outcome::Redraw
            }
            Event::Stop => {
                self.quit = true;
                Outcome::Unchanged
            }
        }
    }

    fn key(&mut self, key: KeyEvent) -> Outcome {
        // A message answers the key before it; the next key clears it.
        self.status = None;
        if self.prompt.is_some() {
            self.prompt_key(key);
            return Outcome::Redraw;
        }
        if self.picker.is_some() {
            self.picker_key(key);
            return Outcome::Redraw;
        }
        let Some(action) = keys::action(key) else {
            return Outcome::Unchanged;
        };
        // The help closes on Esc, ? or q, scrolls, and does nothing else.
        if self.help {
            let page = i64::from(self.size.1.saturating_sub(6));
            let by = match action {
                Action::Escape | Action::Help | Action::Quit => {
                    self.help = false;
                    self.help_scroll = 0;
                    return Outcome::Redraw;
                }
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -page,
                Action::PageDown => page,
                Action::First => i64::MIN / 2,
                Action::Last => i64::MAX / 2,
                _ => return Outcome::Unchanged,
            };
            let max = i64::from(crate::ui::help_max_scroll(self.size));
            self.help_scroll = (i64::from(self.help_scroll) + by).clamp(0, max) as u16;
            return Outcome::Redraw;
        }
        self.act(action);
        Outcome::Redraw
    }

    /// Every action, in one place.
    fn act(&mut self, action: Action) {
        let page = i64::from(self.list_rows().max(1));
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::Escape => {
                if self.search.take().is_some() {
                    self.note(Severity::Info, "search cleared".into());
                }
            }
            Action::Up => self.scroll(-1),
            Action::Down => self.scroll(1),
            Action::PageUp => self.scroll(-page),
            Action::PageDown => self.scroll(page),
            Action::First | Action::Last if self.filtering() => {
                let (at, n) = self
                    .search
                    .as_ref()
                    .map_or((0, 0), |s| (s.at as i64, s.rows.len() as i64));
                let to = if action == Action::First { 0 } else { n - 1 };
                self.next_match(to - at);
            }
            Action::First => self.select(0),
            Action::Last => self.select(self.slot_count().saturating_sub(1)),
            Action::Tail => {
                if let Some(s) = &self.view().sample {
                    let (tail, slot) = (s.tail(), slot_of(s.tail(), s.slot_count()));
                    self.select(slot);
                    self.note(
                        Severity::Info,
                        format!("tail: slot {slot}, the next frame the consumer reads (position {tail})"),
                    );
                }
            }
            Action::Head => {
                let Some(s) = &self.view().sample else { return };
                let (newest, head, batch, n) =
                    (s.newest, s.head(), s.header.producer.batch, s.slot_count());
                match newest {
                    Some(pos) => {
                        let slot = slot_of(pos, n);
                        self.select(slot);
                        let lag = pos.saturating_add(1).saturating_sub(head);
                        let note = if lag > 0 {
                            format!(
                                "newest frame: position {pos}, slot {slot} ({lag} past head {head}: head is stored every {batch} frames)"
                            )
                        } else {
                            format!("newest frame: position {pos}, slot {slot}")
                        };
                        self.note(Severity::Info, note);
                    }
                    None => self.note(Severity::Info, "no frame was ever published".into()),
                }
            }
            Action::Follow => {
                self.follow = !self.follow;
                self.slots_dirty = true;
                let what = if self.follow {
                    "on: the newest frame stays selected"
                } else {
                    "off"
                };
                self.note(Severity::Info, format!("follow {what}"));
            }
            Action::Hex => {
                self.detail_mode = match self.detail_mode {
                    DetailMode::Decoded => DetailMode::Hex,
                    DetailMode::Hex => DetailMode::Decoded,
                };
                self.detail_scroll = 0;
            }
            Action::Freeze => self.toggle_freeze(),
            Action::Burst if self.live.offline.is_some() => self.note(
                Severity::Info,
                "offline: there is no process to signal".into(),
            ),
            Action::Burst => self.burst(),
            Action::Save => self.effects.push(Effect::Screenshot),
            Action::ClearLog => {
                self.alarms.log.clear();
                self.log_scroll = 0;
                self.note(Severity::Info, "event log cleared".into());
            }
            Action::Faster => self.step_refresh(-1),
            Action::Slower => self.step_refresh(1),
            Action::Jump => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Jump,
                    text: String::new(),
                })
            }
            Action::Search => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Search,
                    text: String::new(),
                })
            }
            Action::NextMatch if self.finds_frames() => self.find_frame(true),
            Action::PrevMatch if self.finds_frames() => self.find_frame(false),
            Action::NextMatch => self.next_match(1),
            Action::PrevMatch => self.next_match(-1),
            Action::Focus => {
                self.focus = self.focus.next();
                let name = match self.focus {
                    Focus::Slots => "slot list",
                    Focus::Detail => "slot detail",
                    Focus::Events => "event log",
                };
                self.note(Severity::Info, format!("focus: {name} (↑↓ scroll it)"));
            }
            Action::LogLevel => {
                self.log_filter = match self.log_filter {
                    LogFilter::All => LogFilter::Warnings,
                    LogFilter::Warnings => LogFilter::Alarms,
                    LogFilter::Alarms => LogFilter::All,
                };
                self.log_scroll = 0;
                self.note(
                    Severity::Info,
                    format!("event log shows: {}", self.log_filter.name()),
                );
            }
            Action::Open if self.live.offline.is_some() => self.note(
                Severity::Info,
                "a file is open: quit and start forge-top without --file to pick a segment".into(),
            ),
            Action::Open => {
                self.picker = Some(Picker::default());
                self.effects.push(Effect::ListSegments);
            }
            Action::FrameBack => self.seek(Seek::Frames(-1)),
            Action::FrameOn => self.seek(Seek::Frames(1)),
            Action::SecondBack => self.seek(Seek::Seconds(-1.0)),
            Action::SecondOn => self.seek(Seek::Seconds(1.0)),
            Action::Play => self.seek(Seek::TogglePlay),
            Action::PlaySlower => self.seek(Seek::Speed(0.5)),
            Action::PlayFaster => self.seek(Seek::Speed(2.0)),
        }
    }

    fn prompt_key(&mut self, key: KeyEvent) {
        let Some(prompt) = &mut self.prompt else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.prompt = None,
            KeyCode::Backspace => {
                prompt.text.pop();
            }
            KeyCode::Enter => {
                let Prompt { kind, text } = self.prompt.take().expect("a prompt is open");
                match kind {
                    PromptKind::Jump => self.jump(text.trim()),
                    PromptKind::Search => self.start_search(text.trim()),
                }
            }
            KeyCode::Char(c) if !c.is_control() && prompt.text.len() < 64 => prompt.text.push(c),
            _ => {}
        }
    }

    fn picker_key(&mut self, key: KeyEvent) {
        let Some(picker) = &mut self.picker else {
            return;
        };
        let n = picker.entries.len();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => self.picker = None,
            KeyCode::Up | KeyCode::Char('k') if n > 0 => {
                picker.selected = (picker.selected + n - 1) % n
            }
            KeyCode::Down | KeyCode::Char('j') if n > 0 => {
                picker.selected = (picker.selected + 1) % n
            }
            KeyCode::Char('r') => self.effects.push(Effect::ListSegments),
            KeyCode::Enter => {
                if let Some(entry) = picker.entries.get(picker.selected) {
                    let name = entry.name.clone();
                    self.picker = None;
                    if name != self.config.segment {
                        self.switch_segment(name);
                    }
                }
            }
            _ => {}
        }
    }

    /// Watches `name` from now on.
    fn switch_segment(&mut self, name: String) {
        self.note(Severity::Info, format!("watching {name}"));
        self.alarms.log(
            self.live.unix_ns,
            Severity::Info,
            format!("switched to segment {name}"),
        );
        self.config.segment = name.clone();
        self.switch_to = Some(name);
        self.live = View::default();
        self.frozen = None;
        self.search = None;
        self.prev = None;
        self.follow = true;
        self.selected = 0;
        self.list_first = 0;
        self.alarms.forget_segment();
    }

    fn jump(&mut self, text: &str) {
        if self.mode() == keys::When::Recording {
            // A recording jumps its cursor: to a sequence, or a time of day.
            if let Ok(seq) = text.replace([',', '_'], "").parse::<u64>() {
                self.seek(Seek::Sequence(seq));
            } else if let Some(t) = self.time_of_day(text) {
                self.seek(Seek::Time(t));
            } else {
                self.note(
                    Severity::Warning,
                    format!("{text:?} is neither a sequence number nor a time like 12:00:03.5"),
                );
            }
            return;
        }
        let Some(s) = self.view().sample.as_ref() else {
            return;
        };
        let Ok(seq) = text.replace([',', '_'], "").parse::<u64>() else {
            self.note(
                Severity::Warning,
                format!("{text:?} is not a sequence number"),
            );
            return;
        };
        let n = u64::from(s.slot_count());
        let newest = s.newest.unwrap_or(0);
        let oldest = (newest + 1).saturating_sub(n);
        if s.newest.is_none() || seq < oldest || seq > newest {
            let held = match s.newest {
                Some(_) => format!("the ring holds positions {oldest}..{newest}"),
                None => "the ring holds no frame yet".into(),
            };
            self.note(
                Severity::Warning,
                format!("sequence {seq} is not in the ring: {held}"),
            );
            return;
        }
        let slot = slot_of(seq, s.slot_count());
        self.select(slot);
        self.note(Severity::Info, format!("position {seq}: slot {slot}"));
    }

    /// `HH:MM[:SS[.fff]]` on the day of the recording's cursor, UTC.
    fn time_of_day(&self, text: &str) -> Option<u64> {
        let mut parts = text.split(':');
        let h: u64 = parts.next()?.parse().ok()?;
        let m: u64 = parts.next()?.parse().ok()?;
        let secs: f64 = parts.next().map_or(Some(0.0), |s| s.parse().ok())?;
        if parts.next().is_some() || h > 23 || m > 59 || !(0.0..60.0).contains(&secs) {
            return None;
        }
        const DAY: u64 = 86_400_000_000_000;
        let day = self.live.unix_ns / DAY * DAY;
        Some(day + (h * 3600 + m * 60) * 1_000_000_000 + (secs * 1e9) as u64)
    }

    fn start_search(&mut self, query: &str) {
        if query.is_empty() {
            self.search = None;
            return;
        }
        self.search = Some(Search {
            query: query.to_owned(),
            matches: None,
            rows: Vec::new(),
            copied_unix_ns: 0,
            copied_mono_ns: 0,
            at: 0,
            first: 0,
        });
        if self.finds_frames() {
            // A recording: the cursor goes to the first matching frame from
            // here on, anywhere in the file; the ring rebuilt there then
            // lists what matches around it.
            self.note(
                Severity::Info,
                format!("searching the recording for {query:?}…"),
            );
            self.seek(Seek::Find {
                query: query.to_owned(),
                forward: true,
                skip: false,
            });
            self.want_ring = true;
            return;
        }
        // Matches come from one copy of the whole ring.
        match self.frozen.as_ref().and_then(|f| f.image.as_ref()) {
            Some(img) => {
                let img = img.clone();
                self.found(&img);
            }
            None => self.want_ring = true,
        }
        self.note(Severity::Info, format!("searching the ring for {query:?}…"));
    }

    /// Does the current search look for frames through a recording (a text
    /// or a kind, not a slot state) rather than in one copy of the ring?
    fn finds_frames(&self) -> bool {
        self.mode() == keys::When::Recording
            && self
                .search
                .as_ref()
                .is_some_and(|s| !is_state_query(&s.query))
    }

    /// `n` / `N` in a recording: the cursor to the next / previous matching
    /// frame of the file, and the ring's matches found again there.
    fn find_frame(&mut self, forward: bool) {
        let Some(search) = &mut self.search else {
            return;
        };
        search.matches = None;
        search.rows.clear();
        let query = search.query.clone();
        self.seek(Seek::Find {
            query,
            forward,
            skip: true,
        });
        self.want_ring = true;
    }

    /// The matches of the current search in `img`; selects the first.
    fn found(&mut self, img: &RingImage) {
        let recording = self.mode() == keys::When::Recording;
        let Some(search) = &mut self.search else {
            return;
        };
        let rows: Vec<SlotView> = img
            .slots
            .iter()
            .filter(|s| slot_matches(s, &search.query))
            .map(|s| SlotView {
                bytes: Vec::new(),
                ..s.clone()
            })
            .collect();
        let count = rows.len();
        let query = search.query.clone();
        search.matches = Some(rows.iter().map(|r| r.index).collect());
        search.rows = rows;
        search.copied_unix_ns = img.unix_ns;
        search.copied_mono_ns = img.mono_ns;
        // In a recording the cursor's frame is the newest of the rebuilt
        // ring, and the one a search moved the cursor to: start there.
        search.at = if recording {
            search
                .rows
                .iter()
                .enumerate()
                .max_by_key(|(_, r)| r.position)
                .map_or(0, |(i, _)| i)
        } else {
            0
        };
        search.first = 0;
        if recording {
            // The cursor's move said what was found; the list now shows
            // the matches around it.
            if count > 0 {
                self.next_match(0);
            }
        } else if count == 0 {
            self.note(
                Severity::Warning,
                format!("no slot matches {query:?} (searched one copy of the whole ring)"),
            );
        } else {
            self.next_match(0);
            self.note(
                Severity::Info,
                format!("{count} slots match {query:?}; n / N for the next / previous"),
            );
        }
    }

    fn next_match(&mut self, by: i64) {
        let Some(search) = &mut self.search else {
            self.note(Severity::Info, "no search: / to find slots".into());
            return;
        };
        let Some(matches) = search.matches.as_ref().filter(|m| !m.is_empty()) else {
            return;
        };
        let n = matches.len() as i64;
        search.at = (search.at as i64 + by).rem_euclid(n) as usize;
        let slot = matches[search.at];
        let at = search.at + 1;
        let rows = self.list_rows();
        if let Some(search) = &mut self.search {
            search.first =
                scroll_to(search.first as u32, rows, search.at as u32, n as u32) as usize;
        }
        self.select(slot);
        if by != 0 {
            self.note(Severity::Info, format!("match {at} of {n}: slot {slot}"));
        }
    }

    fn mouse(&mut self, m: MouseEvent) -> Outcome {
        let areas = crate::ui::areas(Rect::new(0, 0, self.size.0, self.size.1), self);
        match m.kind {
            MouseEventKind::ScrollUp => self.scroll(-3),
            MouseEventKind::ScrollDown => self.scroll(3),
            MouseEventKind::Down(MouseButton::Left) => {
                let list = areas.slot_list_inner();
                if list.contains(Position::new(m.column, m.row)) {
                    let row = m.row - list.y;
                    match &self.search {
                        Some(search) if self.filtering() => {
                            let k = search.first + usize::from(row);
                            if k < search.rows.len() {
                                let by = k as i64 - search.at as i64;
                                self.next_match(by);
                            }
                        }
                        _ => {
                            let i = self.list_first + u32::from(row);
                            if i < self.slot_count() {
                                self.select(i);
                            }
                        }
                    }
                }
            }
            _ => return Outcome::Unchanged,
        }
        Outcome::Redraw
    }

    /// Arrows on the focused panel.
    fn scroll(&mut self, by: i64) {
        match self.focus {
            // A search filters the list: the arrows step through its matches.
            Focus::Slots if self.filtering() => self.next_match(by),
            Focus::Slots => self.step(by),
            Focus::Detail => {
                self.detail_scroll = (i64::from(self.detail_scroll) + by).clamp(0, 4096) as u16
            }
            Focus::Events => {
                let len = self.alarms.log.len() as i64;
                self.log_scroll = (self.log_scroll as i64 + by).clamp(0, len.max(0)) as usize
            }
        }
    }

    fn step_refresh(&mut self, dir: i64) {
        let now = self.refresh.as_millis() as u64;
        let presets = REFRESH_PRESETS_MS;
        // The preset at or next to the current refresh, then one step.
        let at = presets
            .iter()
            .position(|&p| p >= now)
            .unwrap_or(presets.len() - 1) as i64;
        let at = if presets[at as usize] != now && dir < 0 {
            at
        } else {
            at + dir
        };
        let ms = presets[at.clamp(0, presets.len() as i64 - 1) as usize];
        self.refresh = Duration::from_millis(ms);
        self.note(Severity::Info, format!("refresh every {ms} ms"));
    }

    fn note(&mut self, severity: Severity, text: String) {
        self.status = Some(Status {
            severity,
            text,
            at_mono_ns: self.last_mono_ns,
        });
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
        self.detail_scroll = 0;
        // The position the slot holds now: from a copy of it when there is
        // one, else from the newest frame (slot i last held the position
        // below it that is i modulo the slot count).
        let view = self.view();
        self.selected_position = self
            .frozen_slot(i)
            .or_else(|| view.slots.iter().find(|s| s.index == i))
            .or_else(|| view.detail.as_ref().filter(|d| d.index == i))
            .map(|s| s.position)
            .unwrap_or_else(|| {
                let s = view.sample.as_ref()?;
                let n = u64::from(s.slot_count().max(1));
                let newest = s.newest?;
                let back = (newest % n + n - u64::from(i) % n) % n;
                newest.checked_sub(back)
            });
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

    fn toggle_freeze(&mut self) {
        if let Some(f) = self.frozen.take() {
            self.note(
                Severity::Info,
                format!("live again ({} samples taken while frozen)", f.samples),
            );
            self.slots_dirty = true;
        } else {
            self.frozen = Some(Frozen {
                view: self.live.clone(),
                image: None,
                samples: 0,
            });
            self.want_ring = true;
            self.note(
                Severity::Info,
                "freezing: copying the whole ring; sampling and alarms go on; space thaws".into(),
            );
        }
    }

    fn burst(&mut self) {
        let producer = self.live.sample.as_ref().map(|s| s.side(Role::Producer));
        match producer {
            Some(p) if p.holder.liveness == Liveness::Running && p.holder.verified => {
                self.effects.push(Effect::Burst(p.line.pid))
            }
            Some(p) if p.holder.alive == Some(true) && !p.holder.verified => self.note(
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
                format!(
                    "no burst: the producer (pid {}) is {}",
                    p.line.pid,
                    p.holder.liveness.name()
                ),
            ),
            _ => self.note(
                Severity::Warning,
                "no burst: there is no live producer".into(),
            ),
        }
    }

    /// The answer to an effect, on the status line and in the log.
    pub fn effect_done(&mut self, effect: &Effect, result: Result<String, String>) {
        match (effect, result) {
            (Effect::Burst(pid), Ok(m)) => {
                self.alarms.burst_sent(
                    *pid,
                    self.live.sample.as_ref(),
                    self.last_mono_ns,
                    self.live.unix_ns,
                );
                self.note(Severity::Info, m);
            }
            (Effect::SaveImage, Ok(m)) => {
                // Said after what the freeze said, not instead of it.
                let before = self
                    .status
                    .take()
                    .filter(|s| s.text.starts_with("frozen:"))
                    .map(|s| s.text.trim_end_matches("; space thaws").to_owned());
                let text = match before {
                    Some(b) => format!("{b}; {m}; space thaws"),
                    None => m,
                };
                self.note(Severity::Info, text);
            }
            (_, Ok(m)) => self.note(Severity::Info, m),
            (Effect::Screenshot | Effect::SaveImage, Err(m)) => self.note(Severity::Critical, m),
            (_, Err(m)) => self.note(Severity::Warning, m),
        }
    }

    /// Where a seek took the cursor, or why it did not move.
    pub fn sought(&mut self, result: Result<String, String>) {
        match result {
            Ok(m) => self.note(Severity::Info, m),
            Err(m) => self.note(Severity::Warning, m),
        }
    }

    /// The picker's list arrived.
    pub fn listed(&mut self, result: Result<Vec<SegmentSummary>, String>) {
        let picker = self.picker.get_or_insert_with(Picker::default);
        match result {
            Ok(entries) => {
                picker.selected = entries
                    .iter()
                    .position(|e| e.name == self.config.segment)
                    .unwrap_or(0);
                picker.entries = entries;
                picker.error = None;
            }
            Err(e) => picker.error = Some(e),
        }
    }

    /// Takes one observation into the live view (and the alarms).
    pub fn observe(&mut self, mut obs: Observation) {
        self.samples += 1;
        self.last_mono_ns = obs.mono_ns;
        if let Some(s) = &mut obs.sample {
            for role in Role::ALL {
                let line = match role {
                    Role::Producer => &s.header.producer,
                    Role::Consumer => &s.header.consumer,
                };
                let liveness = liveness(line, s.holder(role), self.config.thresholds.stale_ns);
                s.holder_mut(role).liveness = liveness;
            }
        }
        self.alarms.update(&obs, self.config.thresholds);
        if self.status.as_ref().is_some_and(|st| {
            st.at_mono_ns != 0 && obs.mono_ns.saturating_sub(st.at_mono_ns) > STATUS_NS
        }) {
            self.status = None;
        }
        let ring = obs.ring.take();
        self.take_into_live(&obs);
        if self.follow && !self.paused() {
            if let Some(d) = &obs.detail {
                self.selected = d.index;
                self.selected_position = d.position;
            }
            if let Some(first) = obs.slots.first() {
                self.list_first = first.index;
            }
        }
        if let Some(img) = ring {
            self.want_ring = false;
            if let Some(f) = &mut self.frozen {
                if f.image.is_none() {
                    // The header, rates and rows of the moment the copy was
                    // taken: all of the frozen screen is of one moment.
                    f.view = self.live.clone();
                    let took = img.took_ns;
                    let skipped = img.skipped;
                    f.image = Some(img.clone());
                    // The post-mortem: the copy goes to disk as it is.
                    if img.raw.is_some() {
                        self.effects.push(Effect::SaveImage);
                    }
                    self.note(
                        Severity::Info,
                        format!(
                            "frozen: the whole ring copied in {}{}; space thaws",
                            human::duration_ns(took),
                            if skipped > 0 {
                                format!(" ({skipped} slots past the copy limit left out)")
                            } else {
                                String::new()
                            }
                        ),
                    );
                }
            }
            self.found(&img);
        }
        if let Some(f) = &mut self.frozen {
            f.samples += 1;
        }
        self.slots_dirty = false;
        let n = self.slot_count();
        if n > 0 && self.selected >= n {
            self.selected = 0;
        }
        self.rescroll();
    }

    fn take_into_live(&mut self, obs: &Observation) {
        let v = &mut self.live;
        v.offline = obs.offline.clone();
        v.link = obs.link.clone();
        v.reason = obs.reason.clone();
        v.unix_ns = obs.unix_ns;
        v.me = obs.me.clone();
        // Our CPU time ticks at 10 ms: average it over a few seconds, each
        // reading at the moment it was read.
        let read_at = if obs.me.read_mono_ns != 0 {
            obs.me.read_mono_ns
        } else {
            obs.mono_ns
        };
        if self.cpu_history.back().is_none_or(|(t, _)| *t != read_at) {
            self.cpu_history.push_back((read_at, obs.me.cpu_time_ns));
        }
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
                // A new session: nothing of the old one's rates or history
                // belongs on its screen.
                v.rates = Rates::default();
                v.history = History::default();
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
                self.alarms.rates(obs, &v.rates);
            }
            v.sample = obs.sample.clone();
            v.sample_unix_ns = obs.unix_ns;
            v.sample_mono_ns = obs.mono_ns;
            v.slots = obs.slots.clone();
            v.detail = obs.detail.clone();
        } else if obs.link == Link::Waiting && v.sample.is_none() {
            v.slots.clear();
            v.detail = None;
        }
        // A lost segment keeps its last good sample and slots on screen.
    }
}

/// Is `line`'s holder running, stalled, stopped, dead…? From the kernel's
/// role lock, the role state and the heartbeat's age against `stale_ns`.
pub fn liveness(line: &SideSnapshot, holder: &Holder, stale_ns: u64) -> Liveness {
    let state = line.role_state;
    match holder.alive {
        Some(true) => match holder.heartbeat_age_ns {
            Some(age) if age > stale_ns => Liveness::Stalled,
            _ => Liveness::Running,
        },
        Some(false) if state == RoleState::Active => Liveness::Dead,
        Some(false) if state == RoleState::Stopped => Liveness::Stopped,
        Some(false) if state == RoleState::Vacant => Liveness::Vacant,
        Some(false) => Liveness::Unknown,
        None if state == RoleState::Vacant => Liveness::Vacant,
        None => Liveness::Unknown,
    }
}

/// Does a slot match a search: a state (`pend`, `done`, `free`, `torn`), a
/// frame kind, or text in the body (case-insensitive)?
pub fn slot_matches(s: &SlotView, query: &str) -> bool {
    let q = query.to_lowercase();
    let state = match s.state {
        SlotState::Pending => "pend",
        SlotState::Consumed => "done",
        SlotState::Free => "free",
    };
    if q == state || q == s.state.name() || (q == "torn" && s.torn) {
        return true;
    }
    s.frame.as_ref().is_some_and(|f| f.matches(&q))
}

fn slot_of(pos: u64, slot_count: u32) -> u32 {
    if slot_count == 0 {
        0
    } else {
        (pos % u64::from(slot_count)) as u32
    }
}
