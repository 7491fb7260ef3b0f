//! Is a role's holder doing its job? fabric's one rule
//! ([`Liveness::judge`]), fed with forge-top's facts: its own proof of the
//! holder (the kernel's role lock), the role state and the heartbeat's age.
//! The ring view and every ring of the host view both use it; so does
//! forge-exporter, through the same rule.

use std::time::Duration;

use crate::model::{Holder, Liveness, Role, Sample, SideSnapshot};

/// Is `line`'s holder running, stalled, stopped, dead…? From the kernel's
/// role lock, the role state and the heartbeat's age against `stale_ns`.
pub fn liveness(line: &SideSnapshot, holder: &Holder, stale_ns: u64) -> Liveness {
    Liveness::judge(
        holder.alive,
        line.role_state.known(),
        holder.heartbeat_age_ns.map(Duration::from_nanos),
        Duration::from_nanos(stale_ns),
    )
}

/// Sets each role's liveness in `s` from its line and holder.
pub fn judge_roles(s: &mut Sample, stale_ns: u64) {
    for role in Role::ALL {
        let side = s.side(role);
        let l = liveness(side.line, side.holder, stale_ns);
        s.holder_mut(role).liveness = l;
    }
}
