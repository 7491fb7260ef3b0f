//! Is a role's holder doing its job? One rule, from facts: the kernel's
//! role lock, the role state and the heartbeat's age. The ring view and
//! every ring of the host view both use it.

use crate::model::{Holder, Liveness, RoleState, SideSnapshot};

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
