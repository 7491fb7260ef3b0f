//! A real Prometheus server (Debian's `prometheus` package; `.ci/run`
//! installs it) scrapes forge-exporter over loopback every second; its
//! HTTP API must then give, for each of three live rings, frame counters
//! that the ring's own header brackets: read before a scrape that Prometheus
//! stored and after it. Without the package the test says so and passes.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use forge_fabric::{Observer, Role};
use serde_json::Value;

const SCRAPE_INTERVAL_S: u64 = 1;

/// Percent-encodes a query parameter.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus API call; the `data` of a successful answer.
fn api(prom: SocketAddr, path_and_query: &str) -> Value {
    let r = get(prom, path_and_query, None).expect("Prometheus answers");
    assert_eq!(r.status, 200, "{path_and_query}: {}", r.body);
    let v: Value = serde_json::from_str(&r.body).expect("JSON");
    assert_eq!(v["status"], "success", "{v}");
    v["data"].clone()
}

/// The newest stored sample of an instant query: (unix ms, value).
fn instant(prom: SocketAddr, query: &str) -> Option<(u64, f64)> {
    // `timestamp(x)` is when the sample was scraped, not the query time.
    let data = api(
        prom,
        &format!(
            "/api/v1/query?query={}",
            enc(&format!("timestamp({query})"))
        ),
    );
    let ts = data["result"].get(0)?["value"][1]
        .as_str()?
        .parse::<f64>()
        .ok()?;
    let data = api(prom, &format!("/api/v1/query?query={}", enc(query)));
    let v = data["result"].get(0)?["value"][1]
        .as_str()?
        .parse::<f64>()
        .ok()?;
    Some(((ts * 1000.0).round() as u64, v))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn frames(name: &str, role: Role) -> u64 {
    let s = Observer::open(name, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    match role {
        Role::Producer => s.producer.messages,
        Role::Consumer => s.consumer.messages,
    }
}

#[test]
fn prometheus_scrapes_the_exporter_and_its_counters_match_each_rings_header() {
    let installed = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!(
            "NOTE: the prometheus server is not installed (Debian package prometheus; .ci/run \
             installs it); skipping the scrape by a real Prometheus"
        );
        return;
    }
    // Before the rig: removed after the rig has killed Prometheus.
    let dir = tempfile::tempdir().unwrap();
    let mut rig = Rig::new("prom");
    let live = [rig.name("1"), rig.name("2")];
    for (name, rate) in live.iter().zip([1000, 300]) {
        drop(rig.ring(&name[rig.prefix.len()..], 0o600));
        rig.daemons(name, rate);
    }
    // A third ring whose daemons ran to a fixed count and stopped: its
    // counters stand still, so Prometheus must hold exactly the header's.
    let done = rig.name("3");
    drop(rig.ring("3", 0o600));
    let mut stream = Command::new(demo_bin("forge-stream"));
    stream.args([
        "--segment",
        &done,
        "--count",
        "2000",
        "--rate",
        "4000",
        "--wait",
        "park",
        "--size",
        "64",
    ]);
    let mut core = Command::new(demo_bin("forge-core"));
    core.args(["--segment", &done, "--count", "2000", "--wait", "park"]);
    let (s, c) = (rig.spawn(stream), rig.spawn(core));
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in [s, c] {
        while rig.child(i).try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the counted run did not end in 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert_eq!(frames(&done, Role::Producer), 2000);

    // Every scrape is a new pass, so a stored sample is no older than its
    // scrape.
    let (_, exporter) = rig.exporter(&["--max-age", "0s"], None);
    let prom: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n  scrape_timeout: {SCRAPE_INTERVAL_S}s\n\
             scrape_configs:\n  - job_name: forge\n    static_configs:\n      - targets: ['{exporter}']\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new("prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prom}"))
        .arg("--log.level=warn");
    let i = rig.spawn(cmd);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(prom, "/-/ready", None).is_ok_and(|r| r.status == 200) {
        if let Some(status) = rig.child(i).try_wait().unwrap() {
            panic!("prometheus exited: {status}");
        }
        assert!(Instant::now() < deadline, "Prometheus not ready in 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The target is up: Prometheus parsed what it scraped.
    let deadline = Instant::now() + Duration::from_secs(30);
    while instant(prom, "up{job=\"forge\"}").map(|(_, v)| v) != Some(1.0) {
        assert!(
            Instant::now() < deadline,
            "the exporter's target not up in 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The series of the three rings, and no others.
    let data = api(
        prom,
        &format!("/api/v1/series?match[]={}", enc("forge_frames_total")),
    );
    let rings: BTreeSet<&str> = data
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["ring"].as_str())
        .collect();
    let all = [live[0].as_str(), live[1].as_str(), done.as_str()];
    assert_eq!(rings, all.into_iter().collect());

    for name in all {
        for role in [Role::Producer, Role::Consumer] {
            let query = format!(
                "forge_frames_total{{ring=\"{name}\",role=\"{}\"}}",
                role.name()
            );
            let asked = Instant::now();
            let before_ms = now_ms();
            let before = frames(name, role);
            let (at, v) = loop {
                match instant(prom, &query) {
                    Some((at, v)) if at > before_ms => break (at, v),
                    _ => {}
                }
                assert!(
                    asked.elapsed() < Duration::from_secs(3 * SCRAPE_INTERVAL_S + 2),
                    "no scrape of {name} stored within a few scrape intervals"
                );
                std::thread::sleep(Duration::from_millis(100));
            };
            let after = frames(name, role);
            assert!(
                (before as f64) <= v && v <= after as f64,
                "{query} = {v} (scraped at {at} ms), but the header said {before} before and {after} after"
            );
            if name == done {
                assert_eq!(v, 2000.0, "{query}");
            }
        }
    }

    // The ring's own buckets make a histogram Prometheus can take
    // quantiles of (what the dashboard shows).
    let q = format!(
        "histogram_quantile(0.99, rate(forge_latency_seconds_bucket{{ring=\"{}\"}}[5s]))",
        live[0]
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let p99 = loop {
        let data = api(prom, &format!("/api/v1/query?query={}", enc(&q)));
        let v = data["result"]
            .get(0)
            .and_then(|r| r["value"][1].as_str()?.parse::<f64>().ok());
        match v {
            Some(v) if v.is_finite() => break v,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "no p99 latency from Prometheus in 15 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(p99 > 0.0 && p99 < 1.0, "p99 transit latency {p99} s");
}
