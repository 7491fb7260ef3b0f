//! Is a role's holder doing its job? One rule for every inspector (forge-top's
//! ring and host views, forge-exporter), told from facts only: whether the
//! kernel says a live process holds the role's lock, what the role's state
//! word says, and how old the heartbeat is. Never from a pid alone: a pid in
//! shared memory is a claim anyone with write access can make.

use std::time::Duration;

use crate::vocab::RoleState;

/// Is a role's holder doing its job?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Liveness {
    /// Nobody took the role since the segment was made.
    Vacant,
    /// A live process holds it and beats.
    Running,
    /// A live process holds it but has not beaten for longer than the
    /// stale threshold (SIGSTOP, a debugger, a starved core).
    Stalled,
    /// The holder stopped cleanly and released it.
    Stopped,
    /// The role says active, but no process holds it: the holder died
    /// without a clean stop (SIGKILL, a crash).
    Dead,
    /// The kernel would not say, or the state word holds a value this
    /// build does not know.
    Unknown,
}

impl Liveness {
    /// Every state, in a fixed order (for series and tables).
    pub const ALL: [Liveness; 6] = [
        Liveness::Vacant,
        Liveness::Running,
        Liveness::Stalled,
        Liveness::Stopped,
        Liveness::Dead,
        Liveness::Unknown,
    ];

    /// Tells a role's liveness from its facts.
    ///
    /// - `held`: does a live process hold the role's lock? (`None`: the
    ///   kernel would not say.)
    /// - `state`: the role state word, `None` when it holds a value this
    ///   build does not know.
    /// - `heartbeat_age`: how long ago the holder last beat, `None` if it
    ///   never did.
    /// - `stale`: a heartbeat older than this makes a live holder stalled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::observe::Liveness;
    /// use forge_fabric::RoleState;
    ///
    /// let stale = Duration::from_secs(2);
    /// let beat = |ms| Some(Duration::from_millis(ms));
    /// assert_eq!(Liveness::judge(Some(true), Some(RoleState::Active), beat(10), stale), Liveness::Running);
    /// assert_eq!(Liveness::judge(Some(true), Some(RoleState::Active), beat(2_500), stale), Liveness::Stalled);
    /// // The line says active, the kernel says nobody holds the lock.
    /// assert_eq!(Liveness::judge(Some(false), Some(RoleState::Active), beat(10), stale), Liveness::Dead);
    /// assert_eq!(Liveness::judge(Some(false), Some(RoleState::Stopped), None, stale), Liveness::Stopped);
    /// assert_eq!(Liveness::judge(None, Some(RoleState::Active), beat(10), stale), Liveness::Unknown);
    /// ```
    pub fn judge(
        held: Option<bool>,
        state: Option<RoleState>,
        heartbeat_age: Option<Duration>,
        stale: Duration,
    ) -> Liveness {
        match held {
            Some(true) => match heartbeat_age {
                Some(age) if age > stale => Liveness::Stalled,
                _ => Liveness::Running,
            },
            Some(false) => match state {
                Some(RoleState::Active) => Liveness::Dead,
                Some(RoleState::Stopped) => Liveness::Stopped,
                Some(RoleState::Vacant) => Liveness::Vacant,
                None => Liveness::Unknown,
            },
            None if state == Some(RoleState::Vacant) => Liveness::Vacant,
            None => Liveness::Unknown,
        }
    }

    /// Lower-case name, as JSON and Prometheus labels write it.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every combination of facts, against the rule written out as a table.
    #[test]
    fn every_combination_of_facts_has_one_answer() {
        let stale = Duration::from_secs(2);
        let fresh = Some(Duration::from_millis(1));
        let old = Some(Duration::from_secs(3));
        let states = [
            Some(RoleState::Vacant),
            Some(RoleState::Active),
            Some(RoleState::Stopped),
            None,
        ];
        for state in states {
            for age in [None, fresh, old] {
                let live = if age == old {
                    Liveness::Stalled
                } else {
                    Liveness::Running
                };
                assert_eq!(Liveness::judge(Some(true), state, age, stale), live);
                let gone = match state {
                    Some(RoleState::Active) => Liveness::Dead,
                    Some(RoleState::Stopped) => Liveness::Stopped,
                    Some(RoleState::Vacant) => Liveness::Vacant,
                    None => Liveness::Unknown,
                };
                assert_eq!(Liveness::judge(Some(false), state, age, stale), gone);
                let unsure = if state == Some(RoleState::Vacant) {
                    Liveness::Vacant
                } else {
                    Liveness::Unknown
                };
                assert_eq!(Liveness::judge(None, state, age, stale), unsure);
            }
        }
    }

    #[test]
    fn exactly_the_threshold_is_not_yet_stale() {
        let stale = Duration::from_secs(2);
        let at = Liveness::judge(Some(true), Some(RoleState::Active), Some(stale), stale);
        assert_eq!(at, Liveness::Running);
    }
}
