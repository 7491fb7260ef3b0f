//! The host view: every ring of the host, each judged by the ring view's
//! own rules — liveness by [`liveness`], alarms by one [`Alarms`] per ring —
//! with its rates and a short history, sorted and filtered for the table.
//!
//! ```text
//!  Event::Host ─▶ per ring: liveness ─▶ its Alarms (the ring view's rules) ─▶ rates, history
//!              ─▶ the host's log: appeared / disappeared, then what each ring's alarms logged
//!  keys (HOST table) ─▶ select, sort, filter, Enter: the ring view (Esc: back)
//! ```
//!
//! A ring's own log lines from its first observation are not forwarded:
//! the table shows how it is, and the log says what changed since.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use super::help;
use super::layout::{self, HostFocus};
use super::observe::liveness;
use super::state::*;
use crate::alarms::{Alarm, Alarms, Severity, Thresholds};
use crate::keys::{self, HostAction};
use crate::model::*;

/// Points of frames/s each ring keeps for its sparkline.
pub const HOST_HISTORY: usize = 60;
/// How often the host is sampled unless `--refresh` says otherwise: every
/// ring of the host costs a few system calls.
pub const HOST_REFRESH: Duration = Duration::from_secs(1);
/// How long forge-top's own CPU use is averaged over in the host view, ns.
const CPU_WINDOW_NS: u64 = 10_000_000_000;

/// A column of the host table, in the order it is shown; every one sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostColumn {
    /// The ring's name.
    Name,
    /// Its session.
    Session,
    /// live, retired, initializing, not readable by you…
    State,
    /// The producer's liveness, pid and program.
    Producer,
    /// The consumer's.
    Consumer,
    /// Frames published per second.
    Frames,
    /// Payload bytes per second.
    Bytes,
    /// Slots in flight, of all.
    Fill,
    /// Transit latency p99 over the last second.
    Latency,
    /// The most severe active alarm.
    Alarm,
}

impl HostColumn {
    /// Every column, left to right.
    pub const ALL: [HostColumn; 10] = [
        HostColumn::Name,
        HostColumn::Session,
        HostColumn::State,
        HostColumn::Producer,
        HostColumn::Consumer,
        HostColumn::Frames,
        HostColumn::Bytes,
        HostColumn::Fill,
        HostColumn::Latency,
        HostColumn::Alarm,
    ];

    /// Its header.
    pub fn name(self) -> &'static str {
        match self {
            HostColumn::Name => "name",
            HostColumn::Session => "session",
            HostColumn::State => "state",
            HostColumn::Producer => "producer",
            HostColumn::Consumer => "consumer",
            HostColumn::Frames => "frames/s",
            HostColumn::Bytes => "bytes/s",
            HostColumn::Fill => "fill",
            HostColumn::Latency => "p99",
            HostColumn::Alarm => "alarm",
        }
    }

    /// The column `by` places to the right (left when negative), wrapping.
    pub fn step(self, by: i64) -> Self {
        let n = Self::ALL.len() as i64;
        let at = Self::ALL.iter().position(|&c| c == self).unwrap_or(0) as i64;
        Self::ALL[(at + by).rem_euclid(n) as usize]
    }

    /// Does a larger value come first when sorted this way? Rates, fill,
    /// latency and alarms are read worst-first; words alphabetically.
    pub fn descends(self) -> bool {
        matches!(
            self,
            HostColumn::Frames
                | HostColumn::Bytes
                | HostColumn::Fill
                | HostColumn::Latency
                | HostColumn::Alarm
        )
    }
}

/// One ring as the host view knows it.
#[derive(Debug, Clone)]
pub struct HostRing {
    /// Its name.
    pub name: String,
    /// What the last sample found (liveness filled in).
    pub status: RingStatus,
    /// The last good sample of a ring that was lost since.
    kept: Option<Box<Sample>>,
    /// Sessions the name led to after the first.
    pub session_changes: u64,
    /// Its alarms, by the ring view's rules (the log is forwarded to the
    /// host's and emptied).
    pub alarms: Alarms,
    /// Rates over the last interval.
    pub rates: Rates,
    /// Frames per second, oldest first.
    pub history: VecDeque<u64>,
    prev: Option<Prev>,
    /// Observations taken.
    pub observed: u64,
}

/// What a ring's state column says, as a kind (its colour) and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// Live.
    Live,
    /// Being made, or retired during a re-initialization.
    Passing,
    /// Not readable by this user.
    Refused,
    /// Lost or damaged.
    Bad,
}

impl HostRing {
    fn new(name: &str) -> Self {
        HostRing {
            name: name.to_owned(),
            status: RingStatus::Initializing { init_pid: 0 },
            kept: None,
            session_changes: 0,
            alarms: Alarms::default(),
            rates: Rates::default(),
            history: VecDeque::new(),
            prev: None,
            observed: 0,
        }
    }

    /// The ring's sample: the last one, or the last good one of a ring
    /// that was lost since.
    pub fn sample(&self) -> Option<&Sample> {
        match &self.status {
            RingStatus::Sampled(s) => Some(s),
            RingStatus::Unreadable {
                reason: UnreadableReason::Lost,
                ..
            } => self.kept.as_deref(),
            _ => None,
        }
    }

    /// The state, for scripts: `live`, `retired`, `initializing`,
    /// `unreadable`, `lost`.
    pub fn state_code(&self) -> &'static str {
        match &self.status {
            RingStatus::Sampled(s) => match s.state() {
                Coded::Known(SegmentState::Live) => "live",
                Coded::Known(SegmentState::Retired) => "retired",
                Coded::Known(SegmentState::Initializing) => "initializing",
                Coded::Unknown(_) => "unknown",
            },
            RingStatus::Initializing { .. } => "initializing",
            RingStatus::Retired { .. } => "retired",
            RingStatus::Unreadable {
                reason: UnreadableReason::Lost,
                ..
            } => "lost",
            RingStatus::Unreadable { .. } => "unreadable",
        }
    }

    /// The state in words, longest first, and its kind.
    pub fn state_words(&self) -> (Vec<String>, StateKind) {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect();
        match &self.status {
            RingStatus::Sampled(s) => match s.state() {
                Coded::Known(SegmentState::Live) => (words(&["live"]), StateKind::Live),
                Coded::Known(SegmentState::Retired) => (words(&["retired"]), StateKind::Passing),
                Coded::Known(SegmentState::Initializing) => {
                    (words(&["initializing", "init"]), StateKind::Passing)
                }
                Coded::Unknown(code) => (vec![format!("state {code}?")], StateKind::Bad),
            },
            RingStatus::Initializing { .. } => {
                (words(&["initializing", "init"]), StateKind::Passing)
            }
            RingStatus::Retired { .. } => (words(&["retired"]), StateKind::Passing),
            RingStatus::Unreadable { reason, .. } => match reason {
                UnreadableReason::Permission => (
                    words(&["not readable by you", "no access"]),
                    StateKind::Refused,
                ),
                UnreadableReason::Version => {
                    (words(&["other layout version", "version?"]), StateKind::Bad)
                }
                UnreadableReason::Malformed => (words(&["malformed"]), StateKind::Bad),
                UnreadableReason::Lost => (words(&["lost"]), StateKind::Bad),
                UnreadableReason::Other => (words(&["unreadable"]), StateKind::Bad),
            },
        }
    }

    /// The session the ring is at, when known.
    pub fn session(&self) -> Option<u64> {
        match &self.status {
            RingStatus::Retired { session, .. } => Some(*session),
            _ => self.sample().map(Sample::session_id),
        }
    }

    /// The most severe active alarm (the newest among equals).
    pub fn worst(&self) -> Option<&Alarm> {
        self.alarms.active.first()
    }

    /// Fill: slots in flight over all, 0..=1.
    pub fn fill(&self) -> Option<f64> {
        self.sample().map(Sample::fill_ratio)
    }

    /// Transit latency p99 over the last second, when frames went through.
    pub fn p99_ns(&self) -> Option<u64> {
        self.sample()
            .filter(|s| s.latency_recent.count > 0)
            .and_then(|s| s.latency_recent.p99_ns)
    }

    /// Does `needle` (lower case) stand in the name, the state, a
    /// program, a pid or an alarm?
    pub fn matches(&self, needle: &str) -> bool {
        if needle.is_empty() {
            return true;
        }
        let has = |s: &str| s.to_lowercase().contains(needle);
        has(&self.name)
            || self.state_words().0.iter().any(|w| has(w))
            || self.sample().is_some_and(|s| {
                Role::ALL.into_iter().any(|r| {
                    let side = s.side(r);
                    has(&side.line.program)
                        || (side.line.pid != 0 && side.line.pid.to_string() == needle)
                        || has(side.holder.liveness.name())
                })
            })
            || self
                .alarms
                .active
                .iter()
                .any(|a| has(&a.text) || has(&a.key.short()))
    }

    /// Takes one observation: liveness, the ring's alarms, rates.
    fn take(&mut self, r: RingObservation, at: (u64, u64), notes: Vec<SourceNote>, cfg: Judge) {
        let (mono_ns, unix_ns) = at;
        self.observed += 1;
        self.session_changes = r.session_changes;
        let (sample, rest) = match r.status {
            RingStatus::Sampled(mut s) => {
                for role in Role::ALL {
                    let line = match role {
                        Role::Producer => &s.header.producer,
                        Role::Consumer => &s.header.consumer,
                    };
                    let l = liveness(line, s.holder(role), cfg.thresholds.stale_ns);
                    s.holder_mut(role).liveness = l;
                }
                (Some(*s), None)
            }
            other => (None, Some(other)),
        };
        let (link, reason) = match &rest {
            None => (Link::Attached, None),
            Some(RingStatus::Unreadable {
                reason: UnreadableReason::Lost,
                detail,
                ..
            }) => (Link::Lost, Some(detail.clone())),
            Some(_) => (Link::Waiting, None),
        };
        // A lost ring keeps its last good sample on screen, as the ring view does.
        match (link.clone(), std::mem::replace(&mut self.status, RingStatus::Initializing { init_pid: 0 })) {
            (Link::Lost, RingStatus::Sampled(s)) => self.kept = Some(s),
            (Link::Lost, _) => {}
            _ => self.kept = None,
        }
        // The core forge-top runs on is left out: at the host view's pace
        // it competes with no daemon (the ring view keeps that warning).
        let mut obs = Observation {
            mono_ns,
            unix_ns,
            link,
            reason,
            sample,
            notes,
            ..Observation::default()
        };
        self.alarms.update(&obs, cfg.thresholds);
        if let Some(s) = &obs.sample {
            self.rate(s, &obs, cfg.min_dt_ns);
        }
        self.status = match rest {
            Some(other) => other,
            None => RingStatus::Sampled(Box::new(
                obs.sample.take().expect("a sampled ring has its sample"),
            )),
        };
    }

    /// Rates from the previous sample of the same session, the ring
    /// view's way (and its pace and burst follow-up).
    fn rate(&mut self, s: &Sample, obs: &Observation, min_dt_ns: u64) {
        let prev = self.prev.filter(|p| p.session == s.session_id());
        if prev.is_none() {
            self.rates = Rates::default();
            self.history.clear();
        }
        let advance = match prev {
            Some(p) if obs.mono_ns.saturating_sub(p.mono_ns) >= min_dt_ns => {
                let dt = (obs.mono_ns - p.mono_ns) as f64 / 1e9;
                let since =
                    |now: u64, then: u64| RingPosition::new(now).since(RingPosition::new(then)) as f64 / dt;
                let r = &mut self.rates;
                r.frames_per_s = since(s.head(), p.head);
                r.consumed_per_s = since(s.tail(), p.tail);
                r.bytes_per_s = s.header.producer.bytes.saturating_sub(p.bytes) as f64 / dt;
                r.peak_frames_per_s = r.peak_frames_per_s.max(r.frames_per_s);
                r.peak_bytes_per_s = r.peak_bytes_per_s.max(r.bytes_per_s);
                if self.history.len() == HOST_HISTORY {
                    self.history.pop_front();
                }
                self.history.push_back(r.frames_per_s as u64);
                true
            }
            Some(_) => false,
            None => true,
        };
        if advance {
            self.prev = Some(Prev {
                mono_ns: obs.mono_ns,
                session: s.session_id(),
                head: s.head(),
                tail: s.tail(),
                bytes: s.header.producer.bytes,
            });
            self.alarms.rates(obs, &self.rates);
        }
    }
}

/// What each ring is judged by.
#[derive(Debug, Clone, Copy)]
struct Judge {
    thresholds: Thresholds,
    min_dt_ns: u64,
}

/// Every ring of the host, and how the table shows them.
#[derive(Debug, Clone)]
pub struct HostView {
    /// Every ring, by name.
    pub rings: BTreeMap<String, HostRing>,
    /// The host's event log (`events.log`; its `active` stays empty: the
    /// rings hold the alarms).
    pub events: Alarms,
    /// The column the table is sorted by.
    pub sort: HostColumn,
    /// Sorted the other way than the column's own.
    pub reversed: bool,
    /// Only rings holding this text (lower case) are shown.
    pub filter: String,
    /// The filter before the prompt opened, for Esc.
    filter_was: String,
    /// The selected ring, by name (it stays selected when the order changes).
    pub selected: Option<String>,
    /// The first row shown.
    pub first: usize,
    /// The table or the event log.
    pub focus: HostFocus,
    /// Log lines scrolled past.
    pub log_scroll: usize,
    /// Sampling period.
    pub refresh: Duration,
    /// Observations taken.
    pub samples: u64,
    /// How long the last sample took, ns.
    pub took_ns: u64,
    /// Objects in `/dev/shm` that are not Forge rings.
    pub not_forge: usize,
    /// When the last sample was taken, ns since the Unix epoch.
    pub unix_ns: u64,
    /// The same moment on CLOCK_MONOTONIC.
    pub mono_ns: u64,
    /// forge-top itself.
    pub me: SelfInfo,
    /// forge-top's CPU use, percent of one core, over the last seconds.
    pub me_cpu_pct: f64,
    cpu_history: VecDeque<(u64, u64)>,
}

impl HostView {
    /// A host view sampled every `refresh`, showing rings that hold `filter`.
    pub fn new(refresh: Duration, filter: &str) -> Self {
        HostView {
            rings: BTreeMap::new(),
            events: Alarms::default(),
            sort: HostColumn::Name,
            reversed: false,
            filter: filter.to_lowercase(),
            filter_was: String::new(),
            selected: None,
            first: 0,
            focus: HostFocus::Rings,
            log_scroll: 0,
            refresh,
            samples: 0,
            took_ns: 0,
            not_forge: 0,
            unix_ns: 0,
            mono_ns: 0,
            me: SelfInfo::default(),
            me_cpu_pct: 0.0,
            cpu_history: VecDeque::new(),
        }
    }

    /// The rings the table shows, filtered and sorted.
    pub fn rows(&self) -> Vec<&HostRing> {
        let mut rows: Vec<&HostRing> = self
            .rings
            .values()
            .filter(|r| r.matches(&self.filter))
            .collect();
        let col = self.sort;
        let down = col.descends() != self.reversed;
        rows.sort_by(|a, b| {
            let order = compare(col, a, b);
            let order = if down { order.reverse() } else { order };
            order.then_with(|| a.name.cmp(&b.name))
        });
        rows
    }

    /// Where the selected ring stands in `rows`.
    pub fn selected_index(&self, rows: &[&HostRing]) -> Option<usize> {
        let name = self.selected.as_deref()?;
        rows.iter().position(|r| r.name == name)
    }

    /// Every active alarm of every ring, most severe first, then newest.
    pub fn alarms(&self) -> Vec<(&str, &Alarm)> {
        let mut all: Vec<(&str, &Alarm)> = self
            .rings
            .values()
            .flat_map(|r| r.alarms.active.iter().map(|a| (r.name.as_str(), a)))
            .collect();
        all.sort_by(|(na, a), (nb, b)| {
            b.severity
                .cmp(&a.severity)
                .then(b.since_unix_ns.cmp(&a.since_unix_ns))
                .then(na.cmp(nb))
        });
        all
    }

    /// Rings by state code (`live`, `retired`, …), for the title.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for r in self.rings.values() {
            let code = r.state_code();
            match counts.iter_mut().find(|(c, _)| *c == code) {
                Some((_, n)) => *n += 1,
                None => counts.push((code, 1)),
            }
        }
        let rank = |c: &str| {
            ["live", "retired", "initializing", "lost", "unreadable", "unknown"]
                .iter()
                .position(|&k| k == c)
                .unwrap_or(9)
        };
        counts.sort_by_key(|(c, _)| rank(c));
        counts
    }

    /// Takes one sample of the host.
    fn observe(&mut self, obs: HostObservation, thresholds: Thresholds) {
        self.samples += 1;
        let first = self.samples == 1;
        self.took_ns = obs.took_ns;
        self.not_forge = obs.not_forge;
        self.unix_ns = obs.unix_ns;
        self.mono_ns = obs.mono_ns;
        self.cpu(&obs);
        self.me = obs.me;
        let judge = Judge {
            thresholds,
            min_dt_ns: (self.refresh.as_nanos() as u64 / 2).max(1),
        };
        let replaced: HashMap<&str, (u64, u64)> = obs
            .changes
            .iter()
            .filter_map(|c| match c {
                HostChange::Replaced { name, old, new } => Some((name.as_str(), (*old, *new))),
                _ => None,
            })
            .collect();
        let mut old = std::mem::take(&mut self.rings);
        let mut forwarded = Vec::new();
        for r in obs.rings {
            let name = r.name.clone();
            let mut ring = old.remove(&name).unwrap_or_else(|| HostRing::new(&name));
            // A new session at the name: the ring view's re-attach, said once.
            let notes = replaced
                .get(name.as_str())
                .map(|&(old, new)| vec![SourceNote::Reattached { old, new }])
                .unwrap_or_default();
            ring.take(r, (obs.mono_ns, obs.unix_ns), notes, judge);
            let lines = std::mem::take(&mut ring.alarms.log);
            if ring.observed > 1 {
                forwarded.extend(lines.into_iter().map(|mut e| {
                    e.text = format!("{name}: {}", e.text);
                    e
                }));
            }
            self.rings.insert(name, ring);
        }
        if first {
            self.found();
        }
        for change in &obs.changes {
            match change {
                HostChange::Appeared { name } if !first => {
                    let text = match self.rings.get(name) {
                        Some(r) => format!("{name} appeared: {}", appeared(r)),
                        None => format!("{name} appeared"),
                    };
                    self.events.log(obs.unix_ns, Severity::Info, text);
                }
                HostChange::Disappeared { name } => {
                    let gone = old.remove(name);
                    let alarms = gone
                        .as_ref()
                        .map(|r| r.alarms.active.len())
                        .unwrap_or(0);
                    let with = match alarms {
                        0 => String::new(),
                        1 => " (its alarm goes with it)".into(),
                        n => format!(" (its {n} alarms go with it)"),
                    };
                    self.events
                        .log(obs.unix_ns, Severity::Info, format!("{name} disappeared{with}"));
                }
                _ => {}
            }
        }
        for e in forwarded {
            self.events.log(e.unix_ns, e.severity, e.text);
        }
        if self.selected.as_ref().is_none_or(|s| !self.rings.contains_key(s)) {
            self.selected = self.rows().first().map(|r| r.name.clone());
        }
    }

    /// The first sample's one line: what the host holds.
    fn found(&mut self) {
        let n = self.rings.len();
        let text = if n == 0 {
            "no Forge ring in /dev/shm yet".to_owned()
        } else {
            let parts: Vec<String> = self
                .counts()
                .into_iter()
                .map(|(code, k)| format!("{k} {code}"))
                .collect();
            format!(
                "found {n} Forge ring{} in /dev/shm: {}",
                if n == 1 { "" } else { "s" },
                parts.join(", ")
            )
        };
        self.events.log(self.unix_ns, Severity::Info, text);
    }

    /// forge-top's CPU use over the last seconds, each reading at the
    /// moment it was read.
    fn cpu(&mut self, obs: &HostObservation) {
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
            .is_some_and(|(t, _)| obs.mono_ns.saturating_sub(*t) >= CPU_WINDOW_NS)
        {
            self.cpu_history.pop_front();
        }
        if let (Some(a), Some(b)) = (self.cpu_history.front(), self.cpu_history.back()) {
            let dt = b.0.saturating_sub(a.0);
            if dt > 0 {
                self.me_cpu_pct = b.1.saturating_sub(a.1) as f64 * 100.0 / dt as f64;
            }
        }
    }
}

/// How a ring that just appeared is: its state, its daemons, its worst alarm.
fn appeared(r: &HostRing) -> String {
    let mut text = r.state_words().0[0].clone();
    if let Some(s) = r.sample() {
        for role in Role::ALL {
            let side = s.side(role);
            if side.line.pid != 0 {
                text.push_str(&format!(
                    ", {} {} pid {}",
                    role.name(),
                    side.holder.liveness.name(),
                    side.line.pid
                ));
            }
        }
    }
    if let Some(a) = r.worst() {
        text.push_str(&format!("; alarm: {}", a.key.short()));
    }
    text
}

/// `a` against `b` by `col`, in the column's natural (ascending) order.
fn compare(col: HostColumn, a: &HostRing, b: &HostRing) -> std::cmp::Ordering {
    let f = |x: Option<f64>| x.unwrap_or(-1.0);
    let side = |r: &HostRing, role: Role| {
        r.sample().map(|s| {
            let side = s.side(role);
            (liveness_rank(side.holder.liveness), side.line.pid)
        })
    };
    match col {
        HostColumn::Name => a.name.cmp(&b.name),
        HostColumn::Session => a.session().cmp(&b.session()),
        HostColumn::State => a.state_code().cmp(b.state_code()),
        HostColumn::Producer => side(a, Role::Producer).cmp(&side(b, Role::Producer)),
        HostColumn::Consumer => side(a, Role::Consumer).cmp(&side(b, Role::Consumer)),
        HostColumn::Frames => f(a.sample().map(|_| a.rates.frames_per_s))
            .total_cmp(&f(b.sample().map(|_| b.rates.frames_per_s))),
        HostColumn::Bytes => f(a.sample().map(|_| a.rates.bytes_per_s))
            .total_cmp(&f(b.sample().map(|_| b.rates.bytes_per_s))),
        HostColumn::Fill => f(a.fill()).total_cmp(&f(b.fill())),
        HostColumn::Latency => a.p99_ns().cmp(&b.p99_ns()),
        HostColumn::Alarm => {
            let key = |r: &HostRing| (r.worst().map(|a| a.severity), r.alarms.active.len());
            key(a).cmp(&key(b))
        }
    }
}

/// Worst first when sorted descending: dead, stalled, then the rest.
fn liveness_rank(l: Liveness) -> u8 {
    match l {
        Liveness::Running => 0,
        Liveness::Vacant => 1,
        Liveness::Stopped => 2,
        Liveness::Unknown => 3,
        Liveness::Stalled => 4,
        Liveness::Dead => 5,
    }
}

impl App {
    /// Is the host view up?
    pub fn on_host(&self) -> bool {
        self.screen == Screen::Host && self.host.is_some()
    }

    /// How often the host is sampled, when there is a host view.
    pub fn host_refresh(&self) -> Option<Duration> {
        self.host.as_ref().map(|h| h.refresh)
    }

    /// Takes one sample of the host.
    pub fn observe_host(&mut self, obs: HostObservation) {
        self.last_mono_ns = obs.mono_ns;
        self.live.unix_ns = self.live.unix_ns.max(obs.unix_ns);
        let th = self.config.thresholds;
        if let Some(h) = &mut self.host {
            h.observe(obs, th);
        }
        if self.status.as_ref().is_some_and(|st| {
            st.at_mono_ns != 0 && self.last_mono_ns.saturating_sub(st.at_mono_ns) > STATUS_NS
        }) {
            self.status = None;
        }
        self.host_rescroll();
    }

    /// Rows of rings the table shows at the current size.
    pub fn host_rows(&self) -> usize {
        let focus = self.host.as_ref().map_or(HostFocus::Rings, |h| h.focus);
        usize::from(layout::host_screen(self.size, focus).table_rows())
    }

    /// Keeps the selected ring on screen.
    pub(super) fn host_rescroll(&mut self) {
        let rows_shown = self.host_rows();
        let Some(h) = &self.host else { return };
        let rows = h.rows();
        let n = rows.len();
        let at = h.selected_index(&rows);
        let first = match at {
            Some(i) => scroll_to(h.first as u32, rows_shown as u32, i as u32, n as u32) as usize,
            None => h.first.min(n.saturating_sub(rows_shown)),
        };
        if let Some(h) = &mut self.host {
            h.first = first;
        }
    }

    /// Moves the selection `by` rows (clamped at either end).
    fn host_step(&mut self, by: i64) {
        let Some(h) = &mut self.host else { return };
        let names: Vec<String> = h.rows().iter().map(|r| r.name.clone()).collect();
        if names.is_empty() {
            return;
        }
        let at = h
            .selected
            .as_ref()
            .and_then(|s| names.iter().position(|n| n == s))
            .unwrap_or(0) as i64;
        let to = (at + by).clamp(0, names.len() as i64 - 1) as usize;
        h.selected = Some(names[to].clone());
        self.host_rescroll();
    }

    /// A key in the host view.
    pub(super) fn host_key(&mut self, key: KeyEvent) -> Outcome {
        let Some(action) = keys::host_action(key) else {
            return Outcome::Unchanged;
        };
        if self.help {
            let page = i64::from(self.size.1.saturating_sub(6));
            let by = match action {
                HostAction::Escape | HostAction::Help | HostAction::Quit => {
                    self.help = false;
                    self.help_scroll = 0;
                    return Outcome::Redraw;
                }
                HostAction::Up => -1,
                HostAction::Down => 1,
                HostAction::PageUp => -page,
                HostAction::PageDown => page,
                HostAction::First => i64::MIN / 2,
                HostAction::Last => i64::MAX / 2,
                _ => return Outcome::Unchanged,
            };
            let max = i64::from(help::max_scroll(self.size, Screen::Host));
            self.help_scroll = (i64::from(self.help_scroll) + by).clamp(0, max) as u16;
            return Outcome::Redraw;
        }
        self.host_act(action);
        Outcome::Redraw
    }

    fn host_act(&mut self, action: HostAction) {
        let page = self.host_rows().max(1) as i64;
        let events = self.host.as_ref().is_some_and(|h| h.focus == HostFocus::Events);
        match action {
            HostAction::Quit => self.quit = true,
            HostAction::Help => self.help = true,
            HostAction::Escape => {
                if let Some(h) = &mut self.host {
                    if !h.filter.is_empty() {
                        h.filter.clear();
                        self.note(Severity::Info, "filter cleared: every ring".into());
                        self.host_rescroll();
                    }
                }
            }
            HostAction::Up | HostAction::Down | HostAction::PageUp | HostAction::PageDown => {
                let by = match action {
                    HostAction::Up => -1,
                    HostAction::Down => 1,
                    HostAction::PageUp => -page,
                    _ => page,
                };
                if events {
                    self.host_scroll_log(by);
                } else {
                    self.host_step(by);
                }
            }
            HostAction::First => self.host_step(i64::MIN / 2),
            HostAction::Last => self.host_step(i64::MAX / 2),
            HostAction::Open => self.open_selected(),
            HostAction::Filter => {
                if let Some(h) = &mut self.host {
                    h.filter_was = h.filter.clone();
                    self.prompt = Some(Prompt {
                        kind: PromptKind::Filter,
                        text: h.filter.clone(),
                    });
                }
            }
            HostAction::SortLeft | HostAction::SortRight | HostAction::Reverse => {
                if let Some(h) = &mut self.host {
                    match action {
                        HostAction::SortLeft => h.sort = h.sort.step(-1),
                        HostAction::SortRight => h.sort = h.sort.step(1),
                        _ => h.reversed = !h.reversed,
                    }
                    if action != HostAction::Reverse {
                        h.reversed = false;
                    }
                    let down = h.sort.descends() != h.reversed;
                    let text = format!(
                        "sorted by {} {}",
                        h.sort.name(),
                        if down { "▼ (largest first)" } else { "▲" }
                    );
                    self.note(Severity::Info, text);
                }
                self.host_rescroll();
            }
            HostAction::Save => self.effects.push(Effect::Screenshot),
            HostAction::Faster | HostAction::Slower => {
                let dir = if action == HostAction::Faster { -1 } else { 1 };
                if let Some(h) = &mut self.host {
                    h.refresh = stepped(h.refresh, dir);
                    let ms = h.refresh.as_millis();
                    self.note(Severity::Info, format!("host sampled every {ms} ms"));
                }
            }
            HostAction::ClearLog => {
                if let Some(h) = &mut self.host {
                    h.events.log.clear();
                    h.log_scroll = 0;
                }
                self.note(Severity::Info, "event log cleared".into());
            }
            HostAction::Focus => {
                if let Some(h) = &mut self.host {
                    h.focus = match h.focus {
                        HostFocus::Rings => HostFocus::Events,
                        HostFocus::Events => HostFocus::Rings,
                    };
                    let name = match h.focus {
                        HostFocus::Rings => "ring table",
                        HostFocus::Events => "event log",
                    };
                    self.note(Severity::Info, format!("focus: {name} (↑↓ scroll it)"));
                }
                self.host_rescroll();
            }
            HostAction::LogLevel => {
                self.log_filter = match self.log_filter {
                    LogFilter::All => LogFilter::Warnings,
                    LogFilter::Warnings => LogFilter::Alarms,
                    LogFilter::Alarms => LogFilter::All,
                };
                if let Some(h) = &mut self.host {
                    h.log_scroll = 0;
                }
                self.note(
                    Severity::Info,
                    format!("event log shows: {}", self.log_filter.name()),
                );
            }
        }
    }

    fn host_scroll_log(&mut self, by: i64) {
        if let Some(h) = &mut self.host {
            let len = h.events.log.len() as i64;
            h.log_scroll = (h.log_scroll as i64 + by).clamp(0, len.max(0)) as usize;
        }
    }

    /// The filter prompt changed (typed, erased, kept or given up).
    pub(super) fn filter_typed(&mut self, text: Option<&str>) {
        if let Some(h) = &mut self.host {
            h.filter = match text {
                Some(t) => t.trim().to_lowercase(),
                None => std::mem::take(&mut h.filter_was),
            };
        }
        if let Some(h) = &mut self.host {
            if h.selected.as_ref().is_none_or(|s| {
                !h.rings.get(s).is_some_and(|r| r.matches(&h.filter))
            }) {
                h.selected = h.rows().first().map(|r| r.name.clone());
            }
        }
        self.host_rescroll();
    }

    /// Enter: the selected ring in the ring view.
    fn open_selected(&mut self) {
        let Some(h) = &self.host else { return };
        let Some(ring) = h.selected.as_ref().and_then(|s| h.rings.get(s)) else {
            self.note(Severity::Info, "no ring selected".into());
            return;
        };
        if let RingStatus::Unreadable {
            reason: UnreadableReason::Permission,
            owner,
            ..
        } = &ring.status
        {
            let whose = owner.as_ref().map_or(String::new(), |o| {
                format!(
                    " (owner {} uid {}, mode {})",
                    o.owner.as_deref().unwrap_or("?"),
                    o.uid,
                    o.mode
                )
            });
            let text = format!(
                "{} is not readable by you{whose}: forge-top cannot open it",
                ring.name
            );
            self.note(Severity::Warning, text);
            return;
        }
        let name = ring.name.clone();
        self.screen = Screen::Ring;
        if name != self.config.segment {
            self.switch_segment(name);
        } else {
            self.switch_to = Some(name);
            self.slots_dirty = true;
        }
    }

    /// Esc in the ring view: back to the host view, when there is one.
    pub(super) fn back_to_host(&mut self) -> bool {
        if self.host.is_none() {
            return false;
        }
        self.screen = Screen::Host;
        self.frozen = None;
        self.host_rescroll();
        true
    }

    pub(super) fn host_mouse(&mut self, m: MouseEvent) -> Outcome {
        let focus = self.host.as_ref().map_or(HostFocus::Rings, |h| h.focus);
        let areas = layout::host_screen(self.size, focus);
        match m.kind {
            MouseEventKind::ScrollUp => self.host_step(-3),
            MouseEventKind::ScrollDown => self.host_step(3),
            MouseEventKind::Down(MouseButton::Left) => {
                let list = areas.table_inner();
                if !list.contains(Position::new(m.column, m.row)) {
                    return Outcome::Unchanged;
                }
                let Some(h) = &mut self.host else {
                    return Outcome::Unchanged;
                };
                let k = h.first + usize::from(m.row - list.y);
                if let Some(name) = h.rows().get(k).map(|r| r.name.clone()) {
                    h.selected = Some(name);
                }
            }
            _ => return Outcome::Unchanged,
        }
        Outcome::Redraw
    }
}

/// The refresh preset next to `now` in direction `dir`.
pub(super) fn stepped(now: Duration, dir: i64) -> Duration {
    let now = now.as_millis() as u64;
    let presets = keys::REFRESH_PRESETS_MS;
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
    Duration::from_millis(presets[at.clamp(0, presets.len() as i64 - 1) as usize])
}
