//! Alarms: conditions worth a person's attention, raised and cleared from
//! each observation, and the timestamped event log they leave behind.
//!
//! A condition is either *level* (true while the sample says so: a dead
//! daemon, a stale heartbeat) or *latched* (an event such as a retired
//! session, kept on screen for [`LATCH_NS`] after it happened). Raising and
//! clearing each write one log line, so a flapping condition cannot flood the
//! log faster than the refresh.

use std::collections::VecDeque;

use serde::Serialize;

use crate::model::human::{self, duration_ns};

use crate::model::{Link, Observation, Role, RoleState, SegmentState, Side, SourceNote};

/// How long an event-like alarm stays on screen after it happened.
pub const LATCH_NS: u64 = 10_000_000_000;
/// Log lines kept.
pub const LOG_CAPACITY: usize = 500;

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
    /// The segment we map was retired.
    Retired,
    /// The name leads to another object now.
    Replaced,
    /// Re-attached to a new session.
    EpochChanged,
    /// The name was removed.
    Unlinked,
    /// The mapping can no longer be trusted.
    Lost,
    /// A live daemon stopped heart-beating.
    StaleHeartbeat(Role),
    /// A daemon holds its role but its pid does not exist.
    DeadDaemon(Role),
    /// The ring stayed full too long.
    RingFull,
    /// A slot was overwritten while we copied it.
    TornSlot,
    /// The header's invariants are broken.
    Invariant,
    /// forge-top runs on a daemon's core.
    CoreShared(Role),
}

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
    /// The ring full for longer than this raises an alarm.
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

/// Active alarms and the log.
#[derive(Debug, Clone, Default)]
pub struct Alarms {
    /// Active, most severe first, then oldest first.
    pub active: Vec<Alarm>,
    /// Oldest first.
    pub log: VecDeque<LogEntry>,
    full_since: Option<u64>,
    /// Said once: every core forge-top may use runs a daemon.
    noted_no_free_core: bool,
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

    /// Raises and clears alarms from one observation.
    pub fn update(&mut self, obs: &Observation, th: Thresholds) {
        let now = obs.mono_ns;
        let mut conds = Vec::new();
        self.notes(obs, &mut conds);
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
        self.active.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.since_unix_ns.cmp(&b.since_unix_ns))
        });
    }

    fn notes(&mut self, obs: &Observation, out: &mut Vec<Cond>) {
        let latched = |key, severity, text: String| Cond {
            key,
            severity,
            text,
            latch: true,
        };
        for note in &obs.notes {
            match note {
                SourceNote::Attached { session } => self.log(
                    obs.unix_ns,
                    Severity::Info,
                    format!("attached to session {}", human::session(*session)),
                ),
                SourceNote::Retired { old, new } => out.push(latched(
                    AlarmKey::Retired,
                    Severity::Critical,
                    format!(
                        "segment retired: session {} replaced by {}",
                        human::session(*old),
                        if *new == 0 {
                            "an unknown session".into()
                        } else {
                            human::session(*new)
                        }
                    ),
                )),
                SourceNote::Replaced { old } => out.push(latched(
                    AlarmKey::Replaced,
                    Severity::Critical,
                    format!(
                        "the name now leads to another object; we still map session {}",
                        human::session(*old)
                    ),
                )),
                SourceNote::Unlinked { session } => out.push(latched(
                    AlarmKey::Unlinked,
                    Severity::Warning,
                    format!(
                        "segment name was unlinked; still watching session {} through our mapping",
                        human::session(*session)
                    ),
                )),
                SourceNote::Reattached { old, new } => {
                    self.active.retain(|a| {
                        !matches!(
                            a.key,
                            AlarmKey::Unlinked | AlarmKey::Lost | AlarmKey::Replaced
                        )
                    });
                    out.push(latched(
                        AlarmKey::EpochChanged,
                        Severity::Critical,
                        format!(
                            "epoch changed: re-attached, session {} -> {}",
                            human::session(*old),
                            human::session(*new)
                        ),
                    ))
                }
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
            }
        }
        let torn: Vec<u32> = obs
            .slots
            .iter()
            .chain(obs.detail.iter())
            .filter(|s| s.torn)
            .map(|s| s.index)
            // The producer's next slot is expected to be in flux.
            .filter(|&i| obs.sample.as_ref().is_none_or(|s| !s.producer_may_write(i)))
            .collect();
        if let Some(first) = torn.first() {
            out.push(latched(
                AlarmKey::TornSlot,
                Severity::Warning,
                format!(
                    "torn read of slot {first}{}: overwritten during the copy, shown as torn",
                    if torn.len() > 1 {
                        format!(" (+{} more)", torn.len() - 1)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
    }

    fn levels(&mut self, obs: &Observation, th: Thresholds, out: &mut Vec<Cond>) {
        if !free_core(obs) && !self.noted_no_free_core && obs.sample.is_some() {
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
        if s.state() == SegmentState::Retired {
            out.push(level(
                AlarmKey::Retired,
                Severity::Critical,
                format!(
                    "segment retired: session {} replaced by {}",
                    human::session(s.session_id()),
                    human::session(s.header.identity.successor_session)
                ),
            ));
        }
        for role in Role::ALL {
            let Side { line, holder, .. } = s.side(role);
            if line.role_state != RoleState::Active {
                continue;
            }
            if line.session != 0 && line.session != s.session_id() {
                out.push(level(
                    AlarmKey::SessionMismatch(role),
                    Severity::Critical,
                    format!(
                        "epoch mismatch: {} pid {} attached to session {}, segment is {}",
                        role.name(),
                        line.pid,
                        human::session(line.session),
                        human::session(s.session_id())
                    ),
                ));
            }
            match holder.alive {
                Some(false) => out.push(level(
                    AlarmKey::DeadDaemon(role),
                    Severity::Critical,
                    format!(
                        "{} pid {} is dead but still holds the role",
                        role.name(),
                        line.pid
                    ),
                )),
                Some(true) => {
                    if let Some(age) = holder.heartbeat_age_ns.filter(|&a| a > th.stale_ns) {
                        out.push(level(
                            AlarmKey::StaleHeartbeat(role),
                            Severity::Warning,
                            format!(
                                "{} pid {} heartbeat is {} old (stalled?)",
                                role.name(),
                                line.pid,
                                duration_ns(age)
                            ),
                        ));
                    }
                    if line.core.is_some() && line.core == obs.me.cpu && free_core(obs) {
                        out.push(level(
                            AlarmKey::CoreShared(role),
                            Severity::Warning,
                            format!(
                                "forge-top runs on core {}, where the {} is pinned; use --core",
                                line.core.unwrap_or_default(),
                                role.name()
                            ),
                        ));
                    }
                }
                None => {}
            }
        }
        if s.slot_count() > 0 && s.header.in_flight() >= u64::from(s.slot_count()) {
            let since = *self.full_since.get_or_insert(obs.mono_ns);
            let full_for = obs.mono_ns.saturating_sub(since);
            if full_for > th.full_ns {
                let why = if s
                    .violations
                    .iter()
                    .any(|v| v.starts_with("the ring is stuck"))
                {
                    "the consumer cannot pass a damaged slot"
                } else {
                    "consumer not keeping up"
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
        if !s.violations.is_empty() {
            out.push(level(
                AlarmKey::Invariant,
                Severity::Critical,
                format!("segment damaged: {}", s.violations.join("; ")),
            ));
        }
    }
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
