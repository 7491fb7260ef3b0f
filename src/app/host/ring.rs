//! One ring of the host view: its last observation, judged by the ring
//! view's rules (liveness by [`liveness`], alarms by its own [`Alarms`]),
//! its rates and a short history.

use std::collections::VecDeque;

use crate::alarms::{Alarm, Alarms, Thresholds};
use crate::app::liveness::judge_roles;
use crate::app::rates::{rate, Prev, RateStep};
use crate::model::*;

/// Points of frames/s each ring keeps for its sparkline.
pub const HOST_HISTORY: usize = 60;

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
    pub(in crate::app) fn new(name: &str) -> Self {
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
                        || has(side.state_word())
                })
            })
            || self
                .alarms
                .active
                .iter()
                .any(|a| has(&a.text) || has(&a.key.short()))
    }

    /// Takes one observation: liveness, the ring's alarms, rates.
    pub(in crate::app) fn take(
        &mut self,
        r: RingObservation,
        at: (u64, u64),
        notes: Vec<SourceNote>,
        cfg: Judge,
    ) {
        let (mono_ns, unix_ns) = at;
        self.observed += 1;
        self.session_changes = r.session_changes;
        let (sample, rest) = match r.status {
            RingStatus::Sampled(mut s) => {
                judge_roles(&mut s, cfg.thresholds.stale_ns);
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
        match (
            link.clone(),
            std::mem::replace(&mut self.status, RingStatus::Initializing { init_pid: 0 }),
        ) {
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

    /// Rates from the previous sample of the same session (the ring
    /// view's rule, and its pace and burst follow-up).
    fn rate(&mut self, s: &Sample, obs: &Observation, min_dt_ns: u64) {
        let rated = rate(&mut self.prev, s, obs.mono_ns, min_dt_ns, &mut self.rates);
        if rated == RateStep::NewSession {
            self.history.clear();
        }
        if rated == RateStep::Rated {
            if self.history.len() == HOST_HISTORY {
                self.history.pop_front();
            }
            self.history.push_back(self.rates.frames_per_s as u64);
        }
        if rated != RateStep::TooSoon {
            self.alarms.rates(obs, &self.rates);
        }
    }
}

/// What each ring is judged by.
#[derive(Debug, Clone, Copy)]
pub(in crate::app) struct Judge {
    pub(in crate::app) thresholds: Thresholds,
    pub(in crate::app) min_dt_ns: u64,
}
