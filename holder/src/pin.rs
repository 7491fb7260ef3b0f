//! CPU pinning with `sched_setaffinity`, checked after the fact.

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The original design pins the producer ("transport gateway") here.
pub const DESIGN_PRODUCER_CORE: u32 = 1;
/// The original design pins the consumer ("ingestion tracking") here.
pub const DESIGN_CONSUMER_CORE: u32 = 2;

/// Why pinning failed.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The core is not one this process may run on.
    #[error(
        "core {core} does not exist or is not available to this process (available: {available:?})"
    )]
    NoSuchCore {
        /// The core asked for.
        core: u32,
        /// The cores we may use.
        available: Vec<u32>,
    },
    /// The kernel refused or did not apply the affinity.
    #[error("pinning to core {core} failed: {reason}")]
    Failed {
        /// The core asked for.
        core: u32,
        /// What went wrong.
        reason: String,
    },
}

/// Cores this process is allowed to run on, ascending.
pub fn available_cores() -> Vec<u32> {
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count() as u32)
            .filter(|&c| set.is_set(c as usize).unwrap_or(false))
            .collect(),
        Err(_) => (0..std::thread::available_parallelism().map_or(1, |n| n.get() as u32)).collect(),
    }
}

/// Pins the calling thread (and so a single-threaded daemon) to `core`, then
/// reads the mask back to check it took.
///
/// # Examples
///
/// ```
/// use forge_holder::pin::{available_cores, pin_to, PinError};
///
/// let cores = available_cores();
/// let last = *cores.last().expect("at least one core");
/// std::thread::spawn(move || pin_to(last)).join().unwrap()?;
/// assert!(matches!(pin_to(u32::MAX), Err(PinError::NoSuchCore { .. })));
/// # Ok::<(), PinError>(())
/// ```
pub fn pin_to(core: u32) -> Result<(), PinError> {
    let available = available_cores();
    if !available.contains(&core) {
        return Err(PinError::NoSuchCore { core, available });
    }
    let mut set = CpuSet::new();
    set.set(core as usize).map_err(|e| PinError::Failed {
        core,
        reason: e.to_string(),
    })?;
    sched_setaffinity(Pid::from_raw(0), &set).map_err(|e| PinError::Failed {
        core,
        reason: e.to_string(),
    })?;
    let now = sched_getaffinity(Pid::from_raw(0)).map_err(|e| PinError::Failed {
        core,
        reason: e.to_string(),
    })?;
    let only_core =
        (0..CpuSet::count()).all(|c| now.is_set(c).unwrap_or(false) == (c == core as usize));
    if !only_core {
        return Err(PinError::Failed {
            core,
            reason: "the affinity mask read back is not exactly that core".into(),
        });
    }
    Ok(())
}

/// A default core and, when it differs from the original design, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultCore {
    /// The core to use.
    pub core: u32,
    /// A note for the user when the design's core was not available.
    pub note: Option<String>,
}

/// The producer's default: core 1 as in the original design when it exists,
/// otherwise a core distinct from the consumer's default.
pub fn default_producer_core() -> DefaultCore {
    pick(DESIGN_PRODUCER_CORE, "producer", &available_cores())
}

/// The consumer's default: core 2 when it exists, otherwise the lowest core
/// that is not the producer's default.
pub fn default_consumer_core() -> DefaultCore {
    let available = available_cores();
    if available.contains(&DESIGN_CONSUMER_CORE) {
        return DefaultCore {
            core: DESIGN_CONSUMER_CORE,
            note: None,
        };
    }
    let producer = pick(DESIGN_PRODUCER_CORE, "producer", &available).core;
    let core = available
        .iter()
        .copied()
        .find(|&c| c != producer)
        .unwrap_or(producer);
    DefaultCore {
        core,
        note: Some(format!(
            "core {DESIGN_CONSUMER_CORE} of the original design does not exist here; the consumer uses core {core}"
        )),
    }
}

fn pick(wanted: u32, role: &str, available: &[u32]) -> DefaultCore {
    if available.contains(&wanted) {
        return DefaultCore {
            core: wanted,
            note: None,
        };
    }
    let core = available.iter().copied().max().unwrap_or(0);
    DefaultCore {
        core,
        note: Some(format!(
            "core {wanted} of the original design does not exist here; the {role} uses core {core}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pick_distinct_cores_when_there_are_two() {
        let available = available_cores();
        let (p, c) = (default_producer_core(), default_consumer_core());
        assert!(available.contains(&p.core) && available.contains(&c.core));
        if available.len() >= 2 {
            assert_ne!(p.core, c.core);
        }
    }

    #[test]
    fn a_core_that_does_not_exist_is_an_error() {
        assert!(matches!(
            pin_to(9999),
            Err(PinError::NoSuchCore { core: 9999, .. })
        ));
    }

    #[test]
    fn pinning_to_an_available_core_reads_back() {
        let core = available_cores()[0];
        // A fresh thread, so the test harness's other threads keep their mask.
        std::thread::spawn(move || pin_to(core))
            .join()
            .unwrap()
            .unwrap();
    }
}
