//! What the figures were measured on: CPU, cores, virtualisation, kernel,
//! clock, build profile and how busy the machine was.

use serde::Serialize;

use crate::harness::{now_ns, SpinPolicy};

/// One cache level as the kernel describes it in
/// `/sys/devices/system/cpu/cpuN/cache/indexK`.
#[derive(Debug, Clone, Serialize)]
pub struct Cache {
    pub level: u32,
    /// "Data" or "Unified" (instruction caches are left out).
    pub kind: String,
    pub bytes: u64,
    /// CPUs sharing it (`shared_cpu_list`).
    pub shared_with: String,
}

impl Cache {
    pub fn name(&self) -> String {
        match self.level {
            1 => "L1d".into(),
            2 => "L2".into(),
            n => format!("L{n} (LLC)"),
        }
    }
}

/// "48K", "2048K", "260M" as sysfs writes cache sizes.
fn parse_cache_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1u64 << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    Some(num.parse::<u64>().ok()? * mult)
}

fn caches(core: u32) -> Vec<Cache> {
    let mut out = Vec::new();
    for k in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu{core}/cache/index{k}");
        let (Some(level), Some(kind), Some(size)) = (
            read(&format!("{dir}/level")).and_then(|l| l.parse().ok()),
            read(&format!("{dir}/type")),
            read(&format!("{dir}/size")).and_then(|s| parse_cache_size(&s)),
        ) else {
            continue;
        };
        if kind == "Instruction" {
            continue;
        }
        out.push(Cache {
            level,
            kind,
            bytes: size,
            shared_with: read(&format!("{dir}/shared_cpu_list")).unwrap_or_default(),
        });
    }
    out.sort_by_key(|c| c.level);
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub online_cpus: usize,
    pub cores_used: [u32; 2],
    /// Whether the two cores share a physical core (SMT siblings).
    pub smt_siblings: Option<bool>,
    pub virtualisation: String,
    pub kernel: String,
    pub clocksource: String,
    /// Cost of one `CLOCK_MONOTONIC` read, ns (median of batches).
    pub clock_read_ns: f64,
    pub build_profile: String,
    pub spin_policy: String,
    /// The measuring core's data and unified caches, smallest first.
    pub caches: Vec<Cache>,
    pub load_before: String,
    pub load_after: String,
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn cpuinfo_field(info: &str, key: &str) -> Option<String> {
    info.lines()
        .find(|l| l.split(':').next().map(str::trim) == Some(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

fn cpu_model() -> String {
    let info = read("/proc/cpuinfo").unwrap_or_default();
    let name = cpuinfo_field(&info, "model name").unwrap_or_else(|| "unknown CPU".into());
    match (
        cpuinfo_field(&info, "cpu family"),
        cpuinfo_field(&info, "model"),
        cpuinfo_field(&info, "stepping"),
    ) {
        (Some(f), Some(m), Some(s)) => format!("{name} (family {f}, model {m}, stepping {s})"),
        _ => name,
    }
}

fn virtualisation() -> String {
    let flag = read("/proc/cpuinfo")
        .and_then(|i| cpuinfo_field(&i, "flags"))
        .is_some_and(|f| f.split_whitespace().any(|x| x == "hypervisor"));
    let detect = |arg: &str| {
        std::process::Command::new("systemd-detect-virt")
            .arg(arg)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty() && s != "none")
    };
    let vm = detect("--vm");
    let container = detect("--container");
    let mut s = match (vm, flag) {
        (Some(vm), _) => format!("yes: virtual machine ({vm})"),
        (None, true) => "yes: virtual machine (hypervisor CPU flag)".into(),
        (None, false) => "no virtual machine detected".into(),
    };
    if let Some(c) = container {
        s.push_str(&format!(", inside a {c} container"));
    }
    s
}

fn smt_siblings(a: u32, b: u32) -> Option<bool> {
    let list = read(&format!(
        "/sys/devices/system/cpu/cpu{a}/topology/thread_siblings_list"
    ))?;
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((lo, hi)) => cpus.extend(lo.parse::<u32>().ok()?..=hi.parse::<u32>().ok()?),
            None => cpus.push(part.parse::<u32>().ok()?),
        }
    }
    Some(cpus.contains(&b))
}

/// Median cost of one clock read, over 101 batches of 1000 reads.
fn clock_read_ns() -> f64 {
    let mut batches: Vec<f64> = (0..101)
        .map(|_| {
            let t0 = now_ns();
            let mut x = 0u64;
            for _ in 0..1000 {
                x = x.wrapping_add(std::hint::black_box(now_ns()));
            }
            std::hint::black_box(x);
            (now_ns() - t0) as f64 / 1000.0
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[50]
}

/// CPUs online in the whole machine (not this thread's mask).
fn online_cpus() -> usize {
    let Some(list) = read("/sys/devices/system/cpu/online") else {
        return 0;
    };
    list.split(',')
        .map(|part| match part.split_once('-') {
            Some((lo, hi)) => match (lo.parse::<usize>(), hi.parse::<usize>()) {
                (Ok(lo), Ok(hi)) if hi >= lo => hi - lo + 1,
                _ => 0,
            },
            None => usize::from(part.parse::<usize>().is_ok()),
        })
        .sum()
}

pub fn load() -> String {
    read("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

impl Machine {
    pub fn probe(cores: [u32; 2], policy: SpinPolicy) -> Machine {
        Machine {
            cpu: cpu_model(),
            online_cpus: online_cpus(),
            cores_used: cores,
            smt_siblings: smt_siblings(cores[0], cores[1]),
            virtualisation: virtualisation(),
            kernel: read("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
            clocksource: read("/sys/devices/system/clocksource/clocksource0/current_clocksource")
                .unwrap_or_else(|| "unknown".into()),
            clock_read_ns: clock_read_ns(),
            build_profile: if cfg!(debug_assertions) {
                "debug (unoptimised: these figures mean nothing; use --release)".into()
            } else {
                "release (optimised, debug assertions off)".into()
            },
            spin_policy: policy.describe().into(),
            caches: caches(cores[0]),
            load_before: load(),
            load_after: String::new(),
        }
    }
}

impl Machine {
    /// "L1d 48 KiB, L2 2 MiB, L3 (LLC) 260 MiB shared with CPUs 0-1".
    pub fn caches_line(&self) -> String {
        if self.caches.is_empty() {
            return "unknown (no /sys/devices/system/cpu/cpuN/cache)".into();
        }
        self.caches
            .iter()
            .map(|c| {
                format!(
                    "{} {}{}",
                    c.name(),
                    forge_cli::human::bytes(c.bytes),
                    if c.shared_with.contains(['-', ',']) {
                        format!(" shared with CPUs {}", c.shared_with)
                    } else {
                        String::new()
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The smallest cache `bytes` fits in, or "beyond the LLC".
    pub fn fits_in(&self, bytes: u64) -> String {
        self.caches
            .iter()
            .find(|c| bytes <= c.bytes)
            .map_or_else(|| "memory (beyond the LLC)".into(), Cache::name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(super::parse_cache_size("48K"), Some(48 << 10));
        assert_eq!(super::parse_cache_size("266240K"), Some(260 << 20));
        assert_eq!(super::parse_cache_size("2M"), Some(2 << 20));
        assert_eq!(super::parse_cache_size("x"), None);
    }
}
