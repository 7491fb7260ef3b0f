//! Alarms and events: conditions worth a person's attention, raised and
//! cleared from each observation, and the timestamped log of what happened.
//!
//! - An **alarm** is a condition true now (a dead daemon, a stalled one, a
//!   damaged ring, a ring full too long) or, *latched*, one that happened
//!   and stays on screen for [`LATCH_NS`] (a torn copy of a slot the
//!   producer was not due to write). Raising and clearing each write one
//!   log line, so a flapping condition cannot flood the log.
//! - An **event** is a fact worth a line and no more: a daemon started,
//!   stopped, restarted or died; the segment was re-initialized and we
//!   re-attached; a burst and what it did; a paced producer falling behind.
//!
//! ```text
//!  per role:  vacant ─start─▶ running ◀─resume─ stalled
//!                              │  │ └──stall──▶ ──┘
//!                   clean stop ▼  ▼ no lock, role still active
//!                          stopped  dead         (restart: new pid)
//! ```

use std::collections::VecDeque;

use serde::Serialize;

use crate::model::human::{self, duration_ns};

mod pace;
use crate::model::{Link, Liveness, Observation, Role, SegmentState, SourceNote};

/// How long an event-like alarm stays on screen after it happened.
pub const LATCH_NS: u64 = 10_000_000_000;
/// Log lines kept.
pub const LOG_CAPACITY: usize = 500;
/// A paced producer under this share of its target …
pub(super) const PACE_SHARE: f64 = 0.9;
/// … for this long is said once.
pub(super) const PACE_NS: u64 = 2_000_000_000;
/// A burst not done by then is reported as it stands.
pub(super) const BURST_NS: u64 = 10_000_000_000;

/// How bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Look at it.
    Warning,
    /// Something is wrong now.
    Critical,
}

/// Which alarm (one of each may be active at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "alarm", content = "side", rename_all = "snake_case")]
pub enum AlarmKey {
    /// A daemon attached to another session than the segment's.
    SessionMismatch(Role),
    /// The segment we map was retired and nothing replaced it yet.
    Retired,
    /// The name was removed; we watch an object nobody can open.
    Unlinked,
    /// The mapping can no longer be trusted.
    Lost,
    /// A holder stopped heart-beating (stopped by a signal, starved).
    Stalled(Role),
    /// The role says active but no process holds it.
    Dead(Role),
    /// The ring stayed full too long.
    RingFull,
    /// A slot changed under a copy although the producer was not due to
    /// write it.
    TornSlot,
    /// The ring's indices or slots are damaged.
    Damaged,
    /// forge-top runs on a daemon's core.
    CoreShared(Role),
}

impl AlarmKey {
    /// The alarm in a few words, for a table cell (`producer dead`).
    pub fn short(self) -> String {
        match self {
            AlarmKey::SessionMismatch(role) => format!("{} epoch mismatch", role.name()),
            AlarmKey::Retired => "retired".into(),
            AlarmKey::Unlinked => "removed".into(),
            AlarmKey::Lost => "lost".into(),
            AlarmKey::Stalled(role) => format!("{} stalled", role.name()),
            AlarmKey::Dead(role) => format!("{} dead", role.name()),
            AlarmKey::RingFull => "ring full".into(),
            AlarmKey::TornSlot => "torn read".into(),
            AlarmKey::Damaged => "damaged".into(),
            AlarmKey::CoreShared(role) => format!("core shared with {}", role.name()),
        }
    }
}

/// The kinds of alarm, with what each means, for the help.
pub const KINDS: &[(&str, &str)] = &[
    ("dead", "a role says active but no process holds its lock: the holder died without a clean stop"),
    ("stalled", "the holder lives (it holds the lock) but its heartbeat is older than --stale (SIGSTOP, a debugger)"),
    ("ring full", "no free slot for longer than --full; the reason says whether the consumer is slow, stopped or stuck"),
    ("damaged", "indices or slot stamps that cannot be true, or a published frame whose slot word was overwritten"),
    ("epoch mismatch", "a daemon attached to another session than the one in the header"),
    ("retired / unlinked / lost", "the segment was replaced, removed or truncated under forge-top"),
    ("torn read", "a slot changed while copied although the producer was not due to write it"),
];

/// An active alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alarm {
    /// Which.
    pub key: AlarmKey,
    /// How bad.
    pub severity: Severity,
    /// What, in a sentence.
    pub text: String,
    /// When raised, ns since the Unix epoch.
    pub since_unix_ns: u64,
    /// For latched alarms: CLOCK_MONOTONIC ns when it may clear.
    #[serde(skip)]
    pub latched_until: Option<u64>,
}

/// One line of the event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// When, ns since the Unix epoch.
    pub unix_ns: u64,
    /// How bad.
    pub severity: Severity,
    /// What.
    pub text: String,
}

/// Thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A heartbeat older than this is stale.
    pub stale_ns: u64,
    /// The ring full for longer than this is an alarm.
    pub full_ns: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stale_ns: 2_000_000_000,
            full_ns: 1_000_000_000,
        }
    }
}

/// A role's holder replaced by another process while the ring ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    /// The pid before.
    pub was: u32,
    /// The pid after: the restart is news only while this one holds the
    /// role (not once it stops, nor for the holder of a later session).
    pub pid: u32,
    /// When it was seen, ns since the Unix epoch.
    pub at_unix_ns: u64,
}

/// What a role looked like at the last observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    liveness: Liveness,
    pid: u32,
}

/// A burst being watched: from the signal to the frames it sent.
#[derive(Debug, Clone, Copy)]
struct BurstWatch {
    pid: u32,
    from_mono_ns: u64,
    from_head: u64,
    frames: u64,
    peak_fps: f64,
    full_ns: u64,
    last_mono_ns: u64,
}

/// Active alarms and the log.
#[derive(Debug, Clone, Default)]
pub struct Alarms {
    /// Active, most severe first, then newest first.
    pub active: Vec<Alarm>,
    /// Oldest first.
    pub log: VecDeque<LogEntry>,
    full_since: Option<u64>,
    /// Said once: every core forge-top may use runs a daemon.
    noted_no_free_core: bool,
    /// Each role as last seen (producer, consumer); `None` before.
    seen: [Option<Seen>; 2],
    unlinked: bool,
    burst: Option<BurstWatch>,
    /// Per role (producer, consumer): the last restart seen, kept while the
    /// holder it names still holds the role.
    pub restarted: [Option<Restart>; 2],
    /// Since when a paced producer is behind; whether it was said.
    behind_since: Option<u64>,
    behind_said: bool,
}

struct Cond {
    key: AlarmKey,
    severity: Severity,
    text: String,
    latch: bool,
}

impl Alarms {
    /// Appends a log line.
    pub fn log(&mut self, unix_ns: u64, severity: Severity, text: impl Into<String>) {
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry {
            unix_ns,
            severity,
            text: text.into(),
        });
    }

    /// The worst active severity.
    pub fn worst(&self) -> Option<Severity> {
        self.active.iter().map(|a| a.severity).max()
    }

    /// Was the watched segment's name removed (nothing can open it now)?
    pub fn unlinked(&self) -> bool {
        self.unlinked
    }

    /// Forgets what was seen of a segment (another one is watched now).
    pub fn forget_segment(&mut self) {
        self.active.clear();
        self.seen = [None, None];
        self.restarted = [None, None];
        self.unlinked = false;
        self.burst = None;
        self.behind_since = None;
        self.behind_said = false;
        self.full_since = None;
    }

    /// Raises and clears alarms, and logs events, from one observation.
    pub fn update(&mut self, obs: &Observation, th: Thresholds) {
        let now = obs.mono_ns;
        let mut conds = Vec::new();
        self.notes(obs, &mut conds);
        self.roles(obs);
        self.levels(obs, th, &mut conds);

        let level_keys: Vec<AlarmKey> = conds.iter().filter(|c| !c.latch).map(|c| c.key).collect();
        for c in conds {
            match self.active.iter_mut().find(|a| a.key == c.key) {
                Some(a) => {
                    a.text = c.text;
                    a.severity = a.severity.max(c.severity);
                    if c.latch {
                        a.latched_until = Some(now + LATCH_NS);
                    }
                }
                None => {
                    self.log(obs.unix_ns, c.severity, c.text.clone());
                    self.active.push(Alarm {
                        key: c.key,
                        severity: c.severity,
                        text: c.text,
                        since_unix_ns: obs.unix_ns,
                        latched_until: c.latch.then_some(now + LATCH_NS),
                    });
                }
            }
        }
        // Clear what no longer holds: a level alarm not raised this round, a
        // latched one past its time.
        let mut cleared = Vec::new();
        self.active.retain(|a| {
            let keep =
                a.latched_until.is_some_and(|until| now < until) || level_keys.contains(&a.key);
            if !keep {
                cleared.push(a.text.clone());
            }
            keep
        });
        for text in cleared {
            self.log(obs.unix_ns, Severity::Info, format!("cleared: {text}"));
        }
        // The most severe first and, among equals, the newest: what just
        // happened is what a person needs to read first.
        self.active.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.since_unix_ns.cmp(&a.since_unix_ns))
        });
    }

    /// What the source noticed about the attachment. A re-initialization
    /// arrives as retired + replaced + re-attached in one observation: it is
    /// one event, and no alarm (the new segment is sound).
    fn notes(&mut self, obs: &Observation, out: &mut Vec<Cond>) {
        let reattached = obs.notes.iter().find_map(|n| match n {
            SourceNote::Reattached { old, new } => Some((*old, *new)),
            _ => None,
        });
        if let Some((old, new)) = reattached {
            let retired = obs
                .notes
                .iter()
                .any(|n| matches!(n, SourceNote::Retired { .. }));
            self.active.retain(|a| {
                !matches!(
                    a.key,
                    AlarmKey::Unlinked | AlarmKey::Lost | AlarmKey::Retired
                )
            });
            self.unlinked = false;
            self.seen = [None, None];
            self.burst = None;
            self.log(
                obs.unix_ns,
                Severity::Warning,
                format!(
                    "segment re-initialized: session {} {} session {}; re-attached",
                    human::session(old),
                    if retired {
                        "retired and replaced by"
                    } else {
                        "replaced by"
                    },
                    human::session(new)
                ),
            );
        }
        let retired_shown = obs
            .sample
            .as_ref()
            .is_some_and(|s| s.state() == SegmentState::Retired);
        for note in &obs.notes {
            match note {
                SourceNote::Attached { session } => self.log(
                    obs.unix_ns,
                    Severity::Info,
                    format!("attached to session {}", human::session(*session)),
                ),
                // With a sample of the retired header, the Retired alarm
                // says this once; a note would say it a second time.
                SourceNote::Retired { old, new } if reattached.is_none() && !retired_shown => self
                    .log(
                        obs.unix_ns,
                        Severity::Warning,
                        format!(
                            "session {} was retired (successor {}); waiting for the new segment",
                            human::session(*old),
                            if *new == 0 {
                                "unknown".into()
                            } else {
                                human::session(*new)
                            }
                        ),
                    ),
                // A step of every re-initialization, not a fault.
                SourceNote::Replaced { .. } if reattached.is_none() => self.log(
                    obs.unix_ns,
                    Severity::Info,
                    "the name now leads to another object, not yet readable",
                ),
                SourceNote::Unlinked { .. } => self.unlinked = true,
                SourceNote::Truncated { now, mapped } => self.log(
                    obs.unix_ns,
                    Severity::Critical,
                    format!("segment truncated under us: {now} bytes, {mapped} mapped"),
                ),
                SourceNote::Corrupt { what } => self.log(
                    obs.unix_ns,
                    Severity::Critical,
                    format!("header overwritten: {what}"),
                ),
                SourceNote::Recovered => {
                    self.log(obs.unix_ns, Severity::Info, "header reads sound again")
                }
                SourceNote::OpenFailed { error } => {
                    self.log(obs.unix_ns, Severity::Warning, error.clone())
                }
                SourceNote::Ownership { warning } => {
                    self.log(obs.unix_ns, Severity::Warning, warning.clone())
                }
                _ => {}
            }
        }
        // A torn copy is expected where the producer may be writing; only a
        // slot that changed anyway is news.
        let torn: Vec<u32> = obs
            .slots
            .iter()
            .chain(obs.detail.iter())
            .filter(|s| s.copy.changed && !s.overwritable)
            .map(|s| s.copy.index)
            .collect::<std::collections::BTreeSet<u32>>()
            .into_iter()
            .collect();
        if let Some(first) = torn.first() {
            out.push(Cond {
                key: AlarmKey::TornSlot,
                severity: Severity::Warning,
                text: format!(
                    "torn read of slot {first}{}: it changed while copied, though the producer was not due to write it",
                    if torn.len() > 1 {
                        format!(" (+{} more)", torn.len() - 1)
                    } else {
                        String::new()
                    }
                ),
                latch: true,
            });
        }
    }

    /// One event per change of each role's holder.
    fn roles(&mut self, obs: &Observation) {
        let Some(s) = obs.sample.as_ref().filter(|_| obs.link == Link::Attached) else {
            return;
        };
        for role in Role::ALL {
            let side = s.side(role);
            let now = Seen {
                liveness: side.holder.liveness,
                pid: side.line.pid,
            };
            let program = if side.line.program.is_empty() {
                String::new()
            } else {
                format!(", {}", side.line.program)
            };
            let was = self.seen[role.index()].replace(now);
            // A restart is news only while the holder it names holds the
            // role.
            if self.restarted[role.index()].is_some_and(|r| r.pid != now.pid) {
                self.restarted[role.index()] = None;
            }
            let name = role.name();
            let text = match (was, now.liveness) {
                (None, l) => Some((
                    Severity::Info,
                    match l {
                        Liveness::Running | Liveness::Stalled => {
                            format!("{name} {}: pid {}{program}", l.name(), now.pid)
                        }
                        other => format!("{name} {}", other.name()),
                    },
                )),
                (Some(w), l) if w.liveness == l && w.pid == now.pid => None,
                (Some(w), Liveness::Running) if w.liveness == Liveness::Running => Some((
                    Severity::Warning,
                    format!(
                        "{name} restarted: pid {} -> pid {}{program}",
                        w.pid, now.pid
                    ),
                )),
                (Some(w), Liveness::Running)
                    if w.liveness == Liveness::Stalled && w.pid == now.pid =>
                {
                    Some((
                        Severity::Info,
                        format!("{name} resumed: pid {} beats again", now.pid),
                    ))
                }
                (Some(w), Liveness::Running) => Some((
                    Severity::Info,
                    if w.pid != 0 && w.pid != now.pid {
                        format!(
                            "{name} restarted: pid {} -> pid {}{program}",
                            w.pid, now.pid
                        )
                    } else {
                        format!("{name} started: pid {}{program}", now.pid)
                    },
                )),
                (Some(_), Liveness::Stalled) => Some((
                    Severity::Warning,
                    format!(
                        "{name} stalled: pid {} holds the role but stopped beating",
                        now.pid
                    ),
                )),
                (Some(w), Liveness::Stopped) => Some((
                    Severity::Info,
                    format!("{name} stopped cleanly (pid {})", w.pid),
                )),
                (Some(w), Liveness::Dead) => Some((
                    Severity::Critical,
                    format!(
                        "{name} died without a clean stop (pid {})",
                        w.pid.max(now.pid)
                    ),
                )),
                (Some(_), other) => Some((Severity::Info, format!("{name} {}", other.name()))),
            };
            if let Some(w) =
                was.filter(|w| w.pid != 0 && w.pid != now.pid && now.liveness == Liveness::Running)
            {
                self.restarted[role.index()] = Some(Restart {
                    was: w.pid,
                    pid: now.pid,
                    at_unix_ns: obs.unix_ns,
                });
            }
            if let Some((severity, text)) = text {
                self.log(obs.unix_ns, severity, text);
            }
        }
    }

    fn levels(&mut self, obs: &Observation, th: Thresholds, out: &mut Vec<Cond>) {
        if obs.offline.is_none()
            && !free_core(obs)
            && !self.noted_no_free_core
            && obs.sample.is_some()
        {
            // On a machine where both daemons hold every core forge-top may
            // use, sharing is unavoidable: say it once instead of alarming.
            self.noted_no_free_core = true;
            self.log(
                obs.unix_ns,
                Severity::Info,
                "every core forge-top may use runs a pinned daemon; it shares one (see its cpu % below)",
            );
        }
        let level = |key, severity, text: String| Cond {
            key,
            severity,
            text,
            latch: false,
        };
        if obs.link == Link::Lost {
            out.push(level(
                AlarmKey::Lost,
                Severity::Critical,
                format!(
                    "lost the segment: {}; last good view kept",
                    obs.reason.as_deref().unwrap_or("mapping no longer trusted")
                ),
            ));
        }
        let Some(s) = &obs.sample else {
            self.full_since = None;
            return;
        };
        if self.unlinked {
            // Nothing can open the ring any more: whatever else is wrong
            // with it, this is the end of it.
            out.push(level(
                AlarmKey::Unlinked,
                Severity::Critical,
                format!(
                    "the name {} was removed; still watching session {} through our mapping",
                    s.header.name,
                    human::session(s.session_id())
                ),
            ));
        }
        if s.state() == SegmentState::Retired {
            out.push(level(
                AlarmKey::Retired,
                Severity::Critical,
                format!(
                    "segment retired: session {} replaced by {}; waiting for the new one",
                    human::session(s.session_id()),
                    human::session(s.header.identity.successor_session)
                ),
            ));
        }
        for role in Role::ALL {
            let side = s.side(role);
            let (line, holder) = (side.line, side.holder);
            let name = role.name();
            if holder.alive == Some(true) && line.session != 0 && line.session != s.session_id() {
                out.push(level(
                    AlarmKey::SessionMismatch(role),
                    Severity::Critical,
                    format!(
                        "epoch mismatch: {name} pid {} attached to session {}, segment is {}",
                        line.pid,
                        human::session(line.session),
                        human::session(s.session_id())
                    ),
                ));
            }
            match holder.liveness {
                Liveness::Dead => out.push(level(
                    AlarmKey::Dead(role),
                    Severity::Critical,
                    format!(
                        "{name} is dead: pid {} left the role active without a clean stop; start it again",
                        line.pid
                    ),
                )),
                Liveness::Stalled => {
                    let why = holder
                        .proc
                        .as_ref()
                        .filter(|p| p.state == "T" || p.state == "t")
                        .map_or(String::new(), |_| " (stopped by a signal: state T)".into());
                    out.push(level(
                        AlarmKey::Stalled(role),
                        Severity::Warning,
                        format!(
                            "{name} stalled: pid {} holds the role but its heartbeat is {} old{why}",
                            line.pid,
                            duration_ns(holder.heartbeat_age_ns.unwrap_or(0))
                        ),
                    ));
                }
                // Latched: an unpinned forge-top moves between cores every
                // few ticks, and a level alarm would come and go with it.
                Liveness::Running
                    if obs.offline.is_none()
                        && line.core.is_some()
                        && line.core == obs.me.cpu
                        && free_core(obs) =>
                {
                    out.push(Cond {
                        key: AlarmKey::CoreShared(role),
                        severity: Severity::Warning,
                        text: format!(
                            "forge-top ran on core {}, where the {name} is pinned, in the last {}; use --core with a free one",
                            line.core.unwrap_or_default(),
                            duration_ns(LATCH_NS),
                        ),
                        latch: true,
                    });
                }
                _ => {}
            }
        }
        // A recording's tail is a lower bound: a full ring there is no fact.
        if !s.recorded && s.slot_count() > 0 && s.header.in_flight() >= u64::from(s.slot_count()) {
            let since = *self.full_since.get_or_insert(obs.mono_ns);
            let full_for = obs.mono_ns.saturating_sub(since);
            if full_for > th.full_ns {
                let consumer = s.consumer.liveness;
                let why = if s
                    .violations
                    .iter()
                    .any(|v| v.starts_with("the ring is stuck"))
                {
                    "the consumer cannot pass a damaged slot".to_owned()
                } else if consumer == Liveness::Running {
                    "consumer not keeping up".to_owned()
                } else {
                    format!("the consumer is {}", consumer.name())
                };
                out.push(level(
                    AlarmKey::RingFull,
                    Severity::Warning,
                    format!("ring full for {} ({why})", duration_ns(full_for)),
                ));
            }
        } else {
            self.full_since = None;
        }
        let mut damage = s.violations.clone();
        damage.extend(oversized_slot(obs, s));
        if !damage.is_empty() {
            out.push(level(
                AlarmKey::Damaged,
                Severity::Critical,
                format!("segment damaged: {}", damage.join("; ")),
            ));
        }
    }
}

/// A copied slot whose word carries a position's stamp and a length over
/// the ring's payload capacity: not a frame Forge wrote (LAYOUT.md, rule
/// 9), and a consumer stops there for good. Said for the first such slot
/// among those copied (the rows on screen, the selected one, a frozen
/// ring).
fn oversized_slot(obs: &Observation, s: &crate::model::Sample) -> Option<String> {
    let capacity = s.header.identity.payload_capacity;
    let copied = obs
        .slots
        .iter()
        .chain(obs.detail.iter())
        .chain(obs.ring.iter().flat_map(|ring| ring.slots.iter()));
    let mut over = copied.filter(|v| v.copy.position.is_some() && u32::from(v.copy.len) > capacity);
    let first = over.next()?;
    Some(format!(
        "slot {} (position {}) claims a {}-byte frame, more than its {capacity}-byte payload: its slot word was damaged",
        first.copy.index,
        first.copy.position.unwrap_or_default(),
        first.copy.len,
    ))
}

/// Is there a core forge-top may run on that no live daemon is pinned to?
/// Unknown allowed cores count as free, so the warning stays on.
fn free_core(obs: &Observation) -> bool {
    let Some(s) = &obs.sample else {
        return true;
    };
    let pinned: Vec<u32> = Role::ALL
        .into_iter()
        .map(|role| s.side(role))
        .filter(|side| side.holder.alive == Some(true))
        .filter_map(|side| side.line.core)
        .collect();
    obs.me.allowed_cores.is_empty() || obs.me.allowed_cores.iter().any(|c| !pinned.contains(c))
}
