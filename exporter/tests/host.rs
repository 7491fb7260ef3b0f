//! forge-exporter over a busy host: 200 rings (most idle, three with paced,
//! parked daemons, one it may not read), rings appearing, disappearing and
//! being re-initialized while it serves, a daemon killed under it.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// The exporter runs as this user when the test is root, so that a
/// segment of root's with mode 0000 is one it may not read.
const NOBODY: u32 = 65534;

fn scrape(addr: SocketAddr) -> Vec<Series> {
    let r = get(addr, "/metrics", None).expect("a scrape");
    assert_eq!(r.status, 200, "{}", r.body);
    parse(&r.body)
}

fn rings(series: &[Series]) -> BTreeSet<String> {
    series
        .iter()
        .filter(|s| s.name == "forge_ring_state")
        .map(|s| s.labels["ring"].clone())
        .collect()
}

fn count_state(series: &[Series], state: &str) -> usize {
    series
        .iter()
        .filter(|s| s.name == "forge_ring_state" && s.labels["state"] == state && s.value == 1.0)
        .count()
}

#[test]
fn two_hundred_rings_coming_and_going_are_served_and_none_crashes_it() {
    let started = Instant::now();
    let mut rig = Rig::new("host");
    let root = is_root();
    // Readable by the exporter: as root it runs as nobody, so others read.
    let mode = if root { 0o644 } else { 0o600 };
    let mut idle: Vec<_> = (0..196).map(|i| rig.ring(&format!("{i}"), mode)).collect();
    let live: Vec<String> = (0..3).map(|i| rig.name(&format!("{}", 500 + i))).collect();
    let mut daemons = Vec::new();
    for name in &live {
        drop(rig.ring(&name[rig.prefix.len()..], mode));
        daemons.push(rig.daemons(name, 500));
    }
    // Mode 0000: as root the exporter (nobody) may not open it; as another
    // user, neither may its owner.
    let locked = rig.name("900");
    let _locked = rig.ring("900", 0o000);
    let (exporter, addr) = rig.exporter(&["--max-age", "0s"], root.then_some(NOBODY));

    // Daemons take a moment to attach and stream.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let s = scrape(addr);
        let streaming = live.iter().all(|r| {
            value(
                &s,
                "forge_frames_total",
                &[("ring", r), ("role", "consumer")],
            )
            .is_some_and(|v| v > 0.0)
        });
        if streaming {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the daemons did not stream in 20 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(rings(&first).len(), 200);
    assert_eq!(count_state(&first, "live"), 199);
    assert_eq!(count_state(&first, "unreadable"), 1);
    assert_eq!(
        value(
            &first,
            "forge_ring_unreadable",
            &[("ring", &locked), ("reason", "permission")]
        ),
        Some(1.0)
    );
    for r in &live {
        for role in ["producer", "consumer"] {
            assert_eq!(
                value(&first, "forge_role_up", &[("ring", r), ("role", role)]),
                Some(1.0)
            );
            assert_eq!(
                value(
                    &first,
                    "forge_role_liveness",
                    &[("ring", r), ("role", role), ("state", "running")]
                ),
                Some(1.0)
            );
        }
        let count = value(&first, "forge_latency_seconds_count", &[("ring", r)]).unwrap();
        let inf = value(
            &first,
            "forge_latency_seconds_bucket",
            &[("ring", r), ("le", "+Inf")],
        )
        .unwrap();
        assert!(
            count > 0.0 && count == inf,
            "{r}: count {count}, +Inf {inf}"
        );
    }
    let quiet = rig.name("0");
    assert_eq!(
        value(
            &first,
            "forge_role_liveness",
            &[("ring", &quiet), ("role", "producer"), ("state", "vacant")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &first,
            "forge_frames_total",
            &[("ring", &quiet), ("role", "producer")]
        ),
        Some(0.0)
    );

    // 20 rings go, 20 come, one is re-initialized, a consumer is killed.
    let gone: Vec<String> = idle.drain(..20).map(|s| s.name().to_owned()).collect();
    for name in &gone {
        forge_fabric::segment::unlink(name).unwrap();
    }
    let _new: Vec<_> = (0..20)
        .map(|i| rig.ring(&format!("{}", 600 + i), mode))
        .collect();
    let reinit = idle[0].name().to_owned();
    let _reinit = rig.ring(&reinit[rig.prefix.len()..], mode);
    rig.kill(daemons[0].1);

    let second = scrape(addr);
    assert_eq!(rings(&second).len(), 200);
    let text: BTreeSet<&str> = second
        .iter()
        .filter_map(|s| s.labels.get("ring").map(String::as_str))
        .collect();
    for name in &gone {
        assert!(
            !text.contains(name.as_str()),
            "{name} is gone but still has series"
        );
    }
    assert!(text.contains(rig.name("607").as_str()));
    assert_eq!(
        value(
            &second,
            "forge_ring_session_changes_total",
            &[("ring", &reinit)]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &second,
            "forge_role_alarm",
            &[("ring", &live[0]), ("role", "consumer"), ("kind", "dead")]
        ),
        Some(1.0),
        "a consumer killed with its role active is dead"
    );
    assert_eq!(
        value(
            &second,
            "forge_role_up",
            &[("ring", &live[0]), ("role", "consumer")]
        ),
        Some(0.0)
    );

    // Rings appear and disappear during scrapes.
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        let prefix = rig.prefix.clone();
        std::thread::spawn(move || {
            let opts = forge_fabric::CreateOptions {
                slot_count: 16,
                payload_capacity: 64,
                mode,
            };
            let mut made = 0u32;
            while !stop.load(Ordering::Relaxed) && made < 2000 {
                let name = format!("{prefix}{}", 700 + made % 8);
                let replaced =
                    forge_fabric::Segment::replace(&name, &opts, forge_fabric::LiveHolders::Retire);
                if let Ok((s, _)) = replaced {
                    std::thread::sleep(Duration::from_millis(2));
                    let _ = s.unlink();
                }
                made += 1;
            }
            made
        })
    };
    let until = Instant::now() + Duration::from_secs(3);
    let mut during = 0;
    while Instant::now() < until {
        let s = scrape(addr);
        let n = rings(&s).len();
        assert!((200..=208).contains(&n), "{n} rings");
        during += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let made = churn.join().unwrap();
    assert!(
        during >= 2 && made > 10,
        "{during} scrapes during {made} creations"
    );

    assert!(
        rig.child(exporter).try_wait().unwrap().is_none(),
        "the exporter died"
    );
    // SIGTERM stops it cleanly.
    let pid = nix::unistd::Pid::from_raw(rig.child(exporter).id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = rig.child(exporter).try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(120));
}
