//! The app's state: everything forge-top knows and shows, as plain data
//! that the renderer reads and the input and observation handlers change.
//! Behaviour lives beside it, by concern: [`super::input`] (keys, mouse,
//! freeze), [`super::search`] (`/`, `:`), [`super::picker`] (`o`) and
//! [`super::observe`] (samples and effect results).

use std::collections::VecDeque;
use std::time::Duration;

use super::layout::{self, Focus};
use crate::alarms::{Alarms, Severity, Thresholds};
use crate::keys;
use crate::model::*;

/// Points kept in each history.
pub const HISTORY: usize = 300;
/// How long a status message stays, ns.
pub(super) const STATUS_NS: u64 = 5_000_000_000;
/// How old a live search's copy of the ring may get before it is found
/// again, ns.
pub(super) const SEARCH_REFRESH_NS: u64 = 1_000_000_000;

/// A screen of the app: one ring, or every ring of the host (its state
/// beside the ring's, in [`App::host`], and its own renderer in `ui`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// One ring: header, rates, daemons, slots, alarms.
    #[default]
    Ring,
    /// Every ring of the host in one table; Enter opens one in the ring
    /// view, Esc there comes back.
    Host,
}

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
            segment: DEFAULT_SEGMENT.into(),
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
    pub(super) fn push(q: &mut VecDeque<u64>, v: u64) {
        if q.len() == HISTORY {
            q.pop_front();
        }
        q.push_back(v);
    }
}

/// What the panels show: the latest observation, frozen or not.
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
    /// The host view's filter, applied as it is typed.
    Filter,
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

/// A freeze: one copy of the whole ring's slots, browsed while everything
/// else on screen (header, rates, daemons, alarms) stays live.
#[derive(Debug, Clone, PartialEq)]
pub struct Frozen {
    /// Every slot, whole; `None` until the copy came. The only copy of
    /// the ring forge-top holds: it goes when the freeze does.
    pub image: Option<RingView>,
    /// `head` and `tail` when the copy was taken (the list's T and H).
    pub head: u64,
    /// See `head`.
    pub tail: u64,
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
    /// Which screen is up: the ring's, or the host's.
    pub screen: Screen,
    /// Every ring of the host, when forge-top watches the host (no segment
    /// chosen, or `--all`); it is sampled while a ring opened from it is
    /// watched too.
    pub host: Option<super::host::HostView>,
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
    pub(super) want_ring: bool,
    /// The selection moved: sample the slots now.
    pub(super) slots_dirty: bool,
    pub(super) prev: Option<super::rates::Prev>,
    /// (CLOCK_MONOTONIC ns, our CPU time ns) over the last seconds.
    pub(super) cpu_history: VecDeque<(u64, u64)>,
    pub(super) last_mono_ns: u64,
}

impl App {
    /// A fresh app for a terminal of `size`.
    pub fn new(config: Config, size: (u16, u16)) -> Self {
        App {
            refresh: config.refresh,
            screen: Screen::Ring,
            host: None,
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

    /// A fresh app on the host view, sampled every `refresh`, showing the
    /// rings that hold `filter`.
    pub fn for_host(config: Config, size: (u16, u16), refresh: Duration, filter: &str) -> Self {
        let mut app = App::new(config, size);
        app.screen = Screen::Host;
        app.host = Some(super::host::HostView::new(refresh, filter));
        app
    }

    /// What the panels show: always the live view (a freeze holds only
    /// the slots, see [`App::frozen_slot`]).
    pub fn view(&self) -> &View {
        &self.live
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

    pub(super) fn slot_count(&self) -> u32 {
        self.view().sample.as_ref().map_or(0, |s| s.slot_count())
    }

    /// Rows the slot list shows at the current size.
    pub fn list_rows(&self) -> u32 {
        u32::from(layout::screen(self.size, self.focus).slot_rows())
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
    pub fn frozen_raw(&self) -> Option<forge_record::image::RingImage> {
        self.frozen
            .as_ref()
            .and_then(|f| f.image.as_ref())
            .and_then(|img| img.raw_image())
    }

    /// The frozen image's copy of slot `i`, when frozen with one.
    pub fn frozen_slot(&self, i: u32) -> Option<SlotView> {
        self.frozen
            .as_ref()
            .and_then(|f| f.image.as_ref())
            .and_then(|img| img.slot(i))
    }

    pub(super) fn note(&mut self, severity: Severity, text: String) {
        // The status line shows a long message's end; the log keeps it
        // whole. Long is against the smallest screen, so the log says the
        // same at every size. (One column is the line's margin.)
        if !layout::fits(&text, layout::MIN_SIZE.0 - 1) {
            self.alarms.log(self.live.unix_ns, severity, text.clone());
        }
        self.status = Some(Status {
            severity,
            text,
            at_mono_ns: self.last_mono_ns,
        });
    }
}

/// The slot that holds ring position `pos`.
pub(super) fn slot_of(pos: u64, slot_count: u32) -> u32 {
    if slot_count == 0 {
        0
    } else {
        (pos % u64::from(slot_count)) as u32
    }
}
