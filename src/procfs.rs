//! What the kernel says about a process, in forge-top's terms: fabric's
//! `/proc` reader ([`forge_fabric::process`]) shaped for the panels. Best
//! effort: a process that exits between two reads simply yields `None`.

use forge_fabric::process;

use crate::model::{ProcInfo, SelfInfo};

/// What `/proc/PID` says about `pid`.
pub fn proc_info(pid: u32) -> Option<ProcInfo> {
    let status = process::status(pid)?;
    Some(ProcInfo {
        comm: status.name,
        state: status.state,
        cpus_allowed: status.cpus_allowed,
        last_cpu: process::stat(pid).map(|s| s.processor),
        rss_kib: status.rss_kib,
    })
}

/// forge-top's own core, memory and CPU time.
pub fn self_info() -> SelfInfo {
    let mut me = SelfInfo {
        pid: std::process::id(),
        read_mono_ns: forge_fabric::clock::monotonic_ns(),
        ..SelfInfo::default()
    };
    if let Some(status) = process::self_status() {
        me.rss_kib = status.rss_kib;
        me.allowed_cores = process::parse_cpu_list(&status.cpus_allowed);
    }
    if let Some(stat) = process::self_stat() {
        me.cpu = Some(stat.processor);
        me.cpu_time_ns =
            (stat.utime + stat.stime).saturating_mul(1_000_000_000 / process::clock_ticks());
    }
    me
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_readable() {
        let me = self_info();
        assert!(me.rss_kib > 0);
        assert!(me.cpu.is_some());
        assert!(proc_info(std::process::id()).is_some());
    }
}
