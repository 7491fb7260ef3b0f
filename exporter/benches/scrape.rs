//! What forge-exporter costs, measured (not asserted):
//!
//! 1. one scrape of 200 rings (196 idle, three with paced, parked daemons,
//!    one streaming flat out): the HTTP round trip and the exporter's own
//!    pass, medians of 30;
//! 2. a flat-out producer's frames/s while its ring is scraped every second
//!    (its ring alone, then all 200 rings), against the same producer not
//!    scraped: phases of 2 s taken in turn, medians and pair ratios;
//! 3. the exporter's CPU (share of one core) over 60 s of scrapes every 5 s,
//!    and its RSS.
//!
//! `cargo bench -p forge-exporter --bench scrape` (release build; about
//! three minutes).

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use forge_fabric::Observer;

/// Seconds of each phase of the producer measurement, and pairs of phases.
const PHASE_S: u64 = 2;
const PAIRS: usize = 20;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// utime + stime of `pid`, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat, counted from the state (field 3).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY-free: sysconf through nix.
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    ticks as f64 / hz
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn scrape(addr: SocketAddr, accept: Option<&str>) -> (f64, f64, usize) {
    let t = Instant::now();
    let r = get(addr, "/metrics", accept).unwrap();
    let took = t.elapsed().as_secs_f64();
    assert_eq!(r.status, 200);
    let pass = r
        .body
        .lines()
        .find(|l| l.starts_with("forge_exporter_scrape_duration_seconds "))
        .and_then(|l| l.split(' ').nth(1)?.parse().ok())
        .unwrap();
    (took, pass, r.body.len())
}

fn producer_frames(name: &str) -> (u64, Instant) {
    let s = Observer::open(name, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    (s.producer.messages, Instant::now())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` and `cargo test --benches` look for tests.
        return;
    }
    let mut rig = Rig::new("bench");
    let _idle: Vec<_> = (0..196).map(|i| rig.ring(&i.to_string(), 0o600)).collect();
    for i in 0..3 {
        let name = rig.name(&(500 + i).to_string());
        drop(rig.ring(&(500 + i).to_string(), 0o600));
        rig.daemons(&name, 1000);
    }
    // The flat-out pair, on a ring of the default geometry.
    let fast = rig.name("600");
    let (_seg, _) = forge_fabric::Segment::replace(
        &fast,
        &forge_fabric::CreateOptions::default(),
        forge_fabric::LiveHolders::Retire,
    )
    .unwrap();
    let (exporter, addr) = rig.exporter(&["--max-age", "0s"], None);
    let pid = rig.child(exporter).id();
    std::thread::sleep(Duration::from_secs(1));

    // 1. One scrape of 200 rings, both formats, daemons idle-paced.
    let (coarse, coarse_addr) =
        rig.exporter(&["--max-age", "0s", "--latency-resolution", "4"], None);
    println!("## forge-exporter: one scrape of 200 rings (release build, --max-age 0s)\n");
    println!("| format | latency buckets | HTTP round trip, median (min..max) of 30 | the exporter's pass (forge_exporter_scrape_duration_seconds), median | body |");
    println!("|---|---|---|---|---|");
    for (label, accept, addr, buckets) in [
        (
            "OpenMetrics (what Prometheus asks for)",
            Some("application/openmetrics-text;version=1.0.0"),
            addr,
            "16 per octave (337 le, default)",
        ),
        (
            "Prometheus text 0.0.4",
            None,
            addr,
            "16 per octave (337 le, default)",
        ),
        (
            "OpenMetrics",
            Some("application/openmetrics-text;version=1.0.0"),
            coarse_addr,
            "4 per octave (85 le)",
        ),
    ] {
        for _ in 0..5 {
            scrape(addr, accept);
        }
        let (mut rt, mut pass, mut size) = (Vec::new(), Vec::new(), 0);
        for _ in 0..30 {
            let (t, p, s) = scrape(addr, accept);
            rt.push(t * 1e3);
            pass.push(p * 1e3);
            size = s;
        }
        let (lo, hi) = (
            rt.iter().copied().fold(f64::INFINITY, f64::min),
            rt.iter().copied().fold(0.0, f64::max),
        );
        println!(
            "| {label} | {buckets} | {:.1} ms ({lo:.1}..{hi:.1}) | {:.2} ms | {:.2} MB |",
            median(&mut rt),
            median(&mut pass),
            size as f64 / 1e6
        );
    }
    rig.kill(coarse);

    // 2. A flat-out producer, scraped every second or not, in turn: its
    // ring alone, then all 200 rings.
    let mut stream = Command::new(demo_bin("forge-stream"));
    stream.args(["--segment", &fast, "--size", "64"]);
    let mut core = Command::new(demo_bin("forge-core"));
    core.args(["--segment", &fast]);
    let (s, c) = (rig.spawn(stream), rig.spawn(core));
    std::thread::sleep(Duration::from_secs(2));
    let (alone, alone_addr) = rig.exporter_for(&fast, &["--max-age", "0s"]);
    println!("\n## A flat-out producer (64-byte frames, spinning producer and consumer) scraped every second\n");
    println!("Phases of {PHASE_S} s in turn, not scraped then scraped (a scrape each second), {PAIRS} pairs per case; each pair's ratio compares neighbours, so the machine's other load, which moves the rate between phases, cancels.\n");
    println!("| what is scraped | not scraped, median frames/s | scraped, median frames/s | ratio of medians | median of the {PAIRS} pair ratios (min..max) |");
    println!("|---|---|---|---|---|");
    for (label, target) in [("its ring alone", alone_addr), ("all 200 rings", addr)] {
        let (mut quiet, mut scraped) = (Vec::new(), Vec::new());
        for round in 0..2 * PAIRS {
            let scraping = round % 2 == 1;
            let (f0, t0) = producer_frames(&fast);
            let end = t0 + Duration::from_secs(PHASE_S);
            while Instant::now() < end {
                if scraping {
                    let next = (Instant::now() + Duration::from_secs(1)).min(end);
                    scrape(target, Some("application/openmetrics-text;version=1.0.0"));
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                } else {
                    std::thread::sleep(end.saturating_duration_since(Instant::now()));
                }
            }
            let (f1, t1) = producer_frames(&fast);
            let rate = (f1 - f0) as f64 / (t1 - t0).as_secs_f64();
            if scraping {
                scraped.push(rate);
            } else {
                quiet.push(rate);
            }
        }
        let mut pairs: Vec<f64> = scraped.iter().zip(&quiet).map(|(s, q)| s / q).collect();
        let (plo, phi) = (
            pairs.iter().copied().fold(f64::INFINITY, f64::min),
            pairs.iter().copied().fold(0.0, f64::max),
        );
        let raw = format!(
            "{label}: not scraped {:?}, scraped {:?}",
            quiet
                .iter()
                .map(|r| format!("{:.2}M", r / 1e6))
                .collect::<Vec<_>>(),
            scraped
                .iter()
                .map(|r| format!("{:.2}M", r / 1e6))
                .collect::<Vec<_>>()
        );
        let (mq, ms) = (median(&mut quiet), median(&mut scraped));
        println!(
            "| {label} | {:.2} M | {:.2} M | {:.3} | {:.3} ({plo:.3}..{phi:.3}) |",
            mq / 1e6,
            ms / 1e6,
            ms / mq,
            median(&mut pairs)
        );
        eprintln!("{raw}");
    }
    rig.kill(alone);
    rig.kill(s);
    rig.kill(c);

    // 3. CPU and memory at a 5 s scrape interval.
    let (cpu0, t0) = (cpu_seconds(pid), Instant::now());
    for _ in 0..12 {
        let next = Instant::now() + Duration::from_secs(5);
        scrape(addr, Some("application/openmetrics-text;version=1.0.0"));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let share = (cpu_seconds(pid) - cpu0) / t0.elapsed().as_secs_f64();
    println!("\n## The exporter scraped every 5 s for 60 s (200 rings)\n");
    println!("| CPU, share of one core | RSS now | RSS peak |");
    println!("|---|---|---|");
    println!(
        "| {:.2} % | {:.1} MB | {:.1} MB |",
        share * 100.0,
        status_kb(pid, "VmRSS:") as f64 / 1024.0,
        status_kb(pid, "VmHWM:") as f64 / 1024.0
    );
}
