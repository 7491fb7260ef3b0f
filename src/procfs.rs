//! What the kernel says about a process, in forge-top's terms: the
//! `procfs` crate's reading of `/proc/PID/{status,stat}`, shaped for the
//! panels. Best effort: a process that exits between two reads, or a file
//! that does not parse, simply yields `None` (or a field left empty).

use procfs::process::Process;

use crate::model::{ProcInfo, SelfInfo};

/// `Cpus_allowed_list` as the kernel prints it: `0-3,5`.
fn cpu_list(ranges: &[(u32, u32)]) -> String {
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Every core of `ranges`, at most 4096 per range (a hostile or garbled
/// list cannot make us allocate without bound).
fn cores(ranges: &[(u32, u32)]) -> Vec<u32> {
    ranges
        .iter()
        .flat_map(|&(a, b)| a..=b.min(a.saturating_add(4096)))
        .collect()
}

/// What `/proc/PID` says about `pid`.
pub fn proc_info(pid: u32) -> Option<ProcInfo> {
    let pid = i32::try_from(pid).ok().filter(|&p| p > 0)?;
    let process = Process::new(pid).ok()?;
    let status = process.status().ok()?;
    Some(ProcInfo {
        comm: status.name,
        // `S (sleeping)`: the letter is what the panels show.
        state: status
            .state
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_owned(),
        cpus_allowed: status
            .cpus_allowed_list
            .as_deref()
            .map_or_else(String::new, cpu_list),
        last_cpu: process
            .stat()
            .ok()
            .and_then(|s| s.processor)
            .and_then(|c| u32::try_from(c).ok()),
        rss_kib: status.vmrss.unwrap_or(0),
    })
}

/// forge-top's own core, memory and CPU time.
pub fn self_info() -> SelfInfo {
    let mut me = SelfInfo {
        pid: std::process::id(),
        read_mono_ns: forge_fabric::clock::monotonic_ns(),
        ..SelfInfo::default()
    };
    let Ok(myself) = Process::myself() else {
        return me;
    };
    if let Ok(status) = myself.status() {
        me.rss_kib = status.vmrss.unwrap_or(0);
        me.allowed_cores = status
            .cpus_allowed_list
            .as_deref()
            .map_or_else(Vec::new, cores);
    }
    if let Ok(stat) = myself.stat() {
        me.cpu = stat.processor.and_then(|c| u32::try_from(c).ok());
        let ticks = procfs::ticks_per_second().max(1);
        me.cpu_time_ns = (stat.utime + stat.stime).saturating_mul(1_000_000_000 / ticks);
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
        assert!(!me.allowed_cores.is_empty());
        let info = proc_info(std::process::id()).expect("our own /proc entry");
        // The main thread's state: one letter (R, S, …), not `S (sleeping)`.
        assert_eq!(info.state.len(), 1, "{:?}", info.state);
        assert!(!info.cpus_allowed.is_empty());
    }

    #[test]
    fn cpu_lists_read_back_as_the_kernel_prints_them() {
        assert_eq!(cpu_list(&[(0, 3), (5, 5)]), "0-3,5");
        assert_eq!(cores(&[(0, 2), (5, 5)]), vec![0, 1, 2, 5]);
        assert_eq!(cores(&[(0, u32::MAX)]).len(), 4097);
    }

    #[test]
    fn a_pid_that_cannot_exist_has_no_proc_info() {
        assert_eq!(proc_info(0), None);
        assert_eq!(proc_info(u32::MAX), None);
    }
}
