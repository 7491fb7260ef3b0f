//! What the kernel says about a process, from `/proc`. Best effort: a
//! process that exits between two reads simply yields `None`.

use crate::model::{ProcInfo, SelfInfo};

/// Reads `/proc/PID/status` and `/proc/PID/stat`.
pub fn proc_info(pid: u32) -> Option<ProcInfo> {
    if pid == 0 {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mut info = parse_status(&status);
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        info.last_cpu = parse_stat(&stat).map(|s| s.processor);
    }
    Some(info)
}

/// forge-top's own core, memory and CPU time.
pub fn self_info() -> SelfInfo {
    let pid = std::process::id();
    let mut me = SelfInfo {
        pid,
        ..SelfInfo::default()
    };
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let status = parse_status(&status);
        me.rss_kib = status.rss_kib;
        me.allowed_cores = parse_cpu_list(&status.cpus_allowed);
    }
    if let Some(stat) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(parse_stat)
    {
        me.cpu = Some(stat.processor);
        me.cpu_time_ns = (stat.utime + stat.stime).saturating_mul(1_000_000_000 / clock_ticks());
    }
    me
}

fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Parses `0-2,5` into `[0, 1, 2, 5]`.
pub fn parse_cpu_list(list: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    out.extend(a..=b.min(a.saturating_add(4096)));
                }
            }
            None => out.extend(part.trim().parse::<u32>().ok()),
        }
    }
    out
}

fn parse_status(text: &str) -> ProcInfo {
    let mut info = ProcInfo::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Name" => info.comm = value.to_owned(),
            "State" => info.state = value.split_whitespace().next().unwrap_or("").to_owned(),
            "Cpus_allowed_list" => info.cpus_allowed = value.to_owned(),
            "VmRSS" => {
                info.rss_kib = value
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            }
            _ => {}
        }
    }
    info
}

struct Stat {
    utime: u64,
    stime: u64,
    processor: u32,
}

fn parse_stat(text: &str) -> Option<Stat> {
    // The command name (field 2) is in parentheses and may hold spaces or
    // parentheses itself: fields are counted from the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `fields[0]` is field 3 (state), so field N is at N - 3.
    Some(Stat {
        utime: fields.get(14 - 3)?.parse().ok()?,
        stime: fields.get(15 - 3)?.parse().ok()?,
        processor: fields.get(39 - 3)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_expand_ranges_and_singles() {
        assert_eq!(parse_cpu_list("0-2,5"), vec![0, 1, 2, 5]);
        assert_eq!(parse_cpu_list("1\n"), vec![1]);
        assert!(parse_cpu_list("").is_empty());
    }

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "42 (we ird) name) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 \
                    100 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.utime, s.stime, s.processor), (7, 3, 1));
    }

    #[test]
    fn our_own_process_is_readable() {
        let me = self_info();
        assert!(me.rss_kib > 0);
        assert!(me.cpu.is_some());
        assert!(proc_info(std::process::id()).is_some());
    }
}
