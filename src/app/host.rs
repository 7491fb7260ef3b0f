//! The host view: every ring of the host, each judged by the ring view's
//! own rules — liveness by [`crate::app::liveness()`], alarms by one [`Alarms`] per ring —
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

use super::layout::HostFocus;
use crate::alarms::{Alarm, Alarms, Severity, Thresholds};
use crate::model::*;

mod input;
mod ring;

pub(in crate::app) use input::stepped;
use ring::Judge;
pub use ring::{HostRing, StateKind, HOST_HISTORY};

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
            order.then_with(|| natural(&a.name, &b.name))
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
            [
                "live",
                "retired",
                "initializing",
                "lost",
                "unreadable",
                "unknown",
            ]
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
        // Where the selection stood, for when its ring goes.
        let was_at = {
            let rows = self.rows();
            self.selected_index(&rows)
        };
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
                    let alarms = gone.as_ref().map(|r| r.alarms.active.len()).unwrap_or(0);
                    let with = match alarms {
                        0 => String::new(),
                        1 => " (its alarm goes with it)".into(),
                        n => format!(" (its {n} alarms go with it)"),
                    };
                    self.events.log(
                        obs.unix_ns,
                        Severity::Info,
                        format!("{name} disappeared{with}"),
                    );
                }
                _ => {}
            }
        }
        for e in forwarded {
            self.events.log(e.unix_ns, e.severity, e.text);
        }
        if self
            .selected
            .as_ref()
            .is_none_or(|s| !self.rings.contains_key(s))
        {
            // The ring that takes its row, or the last one.
            let rows = self.rows();
            let at = was_at.unwrap_or(0).min(rows.len().saturating_sub(1));
            self.selected = rows.get(at).map(|r| r.name.clone());
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
                    side.state_word(),
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
        HostColumn::Name => natural(&a.name, &b.name),
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

/// Names as people order them: `/feed_2` before `/feed_10` (runs of
/// digits compare as numbers, the rest as text).
pub fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> impl Iterator<Item = (bool, &str)> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digit = first.is_ascii_digit();
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digit)
                .unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            rest = tail;
            Some((digit, run))
        })
    }
    let mut x = runs(a);
    let mut y = runs(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some((true, p)), Some((true, q))) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                let order = p.len().cmp(&q.len()).then_with(|| p.cmp(q));
                if order.is_ne() {
                    return order;
                }
            }
            (Some((_, p)), Some((_, q))) => {
                let order = p.cmp(q);
                if order.is_ne() {
                    return order;
                }
            }
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

#[cfg(test)]
mod tests {
    use super::natural;
    use std::cmp::Ordering::*;

    #[test]
    fn names_sort_with_their_numbers_as_numbers() {
        assert_eq!(natural("/feed_2", "/feed_10"), Less);
        assert_eq!(natural("/feed_10", "/feed_9"), Greater);
        assert_eq!(natural("/feed_a", "/feed_b"), Less);
        assert_eq!(natural("/r2_x", "/r20_x"), Less);
        assert_eq!(natural("/x007", "/x7"), Less);
        assert_eq!(natural("/same", "/same"), Equal);
        let mut v = vec!["/f_10", "/f_1", "/f_2", "/e"];
        v.sort_by(|a, b| natural(a, b));
        assert_eq!(v, vec!["/e", "/f_1", "/f_2", "/f_10"]);
    }
}
