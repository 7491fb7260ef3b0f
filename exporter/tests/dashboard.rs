//! docs/grafana/forge.json asks only for metrics the exporter serves: every
//! `forge_…` name in every query of the dashboard appears in an exposition
//! the exporter writes for a ring with both roles held and an unreadable
//! one.

use std::collections::BTreeSet;
use std::sync::Arc;

use forge_exporter::judge::Thresholds;
use forge_exporter::metrics::{encode, series_names, Format, Pass};
use forge_fabric::observe::host::{HostScanner, RingEntry, RingState, Unreadable};
use forge_fabric::{CreateOptions, Segment};
use serde_json::Value;

/// Every query string of a dashboard: panels' (and rows' panels')
/// `targets[].expr`, and the templating queries.
fn queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    ("query", Value::String(s)) if s.contains("forge_") => out.push(s.clone()),
                    _ => queries(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| queries(i, out)),
        _ => {}
    }
}

/// The `forge_…` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = expr[i..].find("forge_") {
        let start = i + at;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = start
            + expr[start..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(expr.len() - start);
        // Inside a label value (a ring's name like "/forge_x") is no metric.
        let quoted = expr[..start].matches('"').count() % 2 == 1;
        if boundary && !quoted {
            out.push(expr[start..end].to_owned());
        }
        i = end;
    }
    out
}

/// The series names of an exposition written for a ring whose roles the
/// test holds, and an unreadable ring.
fn served() -> BTreeSet<String> {
    let prefix = format!("/forge_test_exporter_dash_{}_", std::process::id());
    let name = format!("{prefix}1");
    let opts = CreateOptions {
        slot_count: 16,
        payload_capacity: 64,
        ..CreateOptions::default()
    };
    let segment = Segment::create(&name, &opts).unwrap();
    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = forge_fabric::segment::unlink(&self.0);
        }
    }
    let _unlink = Unlink(name.clone());
    let mut producer = segment.producer().unwrap();
    let consumer = segment.consumer().unwrap();
    producer.write_from(&[1; 32]).unwrap();
    producer.flush_index();
    let mut sample = HostScanner::new().with_prefix(&prefix).sample();
    sample.rings.push(RingEntry {
        name: format!("{prefix}2"),
        state: RingState::Unreadable {
            reason: Unreadable::Permission,
            detail: "permission denied".into(),
        },
        session_changes: 0,
        full_since_mono_ns: None,
        holders: [None, None],
    });
    drop((producer, consumer));
    let pass = Arc::new(Pass {
        sample,
        passes: 1,
        thresholds: Thresholds::default(),
        per_octave: 16,
    });
    encode(pass, Format::Prometheus)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

#[test]
fn every_query_of_the_dashboard_names_a_metric_the_exporter_serves() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana/forge.json");
    let text = std::fs::read_to_string(path).expect("docs/grafana/forge.json");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut all = Vec::new();
    queries(&dashboard, &mut all);
    assert!(all.len() > 10, "only {} queries found", all.len());

    let served = served();
    let declared: BTreeSet<String> = series_names().into_iter().collect();
    assert_eq!(served, declared, "the catalogue and what is written differ");

    let mut used = BTreeSet::new();
    for q in &all {
        let names = metric_names(q);
        assert!(!names.is_empty(), "a query names no forge metric: {q}");
        for n in names {
            assert!(
                served.contains(&n),
                "{n} (in {q}) is not a metric the exporter serves"
            );
            used.insert(n);
        }
    }
    // What the dashboard is for.
    for needed in [
        "forge_frames_total",
        "forge_payload_bytes_total",
        "forge_ring_fill_ratio",
        "forge_latency_seconds_bucket",
        "forge_role_up",
        "forge_role_liveness",
        "forge_ring_alarm",
        "forge_role_alarm",
    ] {
        assert!(
            used.contains(needed),
            "the dashboard does not show {needed}"
        );
    }
    assert!(all.iter().any(|q| q.contains("histogram_quantile(0.99")));
}

#[test]
fn names_inside_label_values_are_not_taken_for_metrics() {
    assert_eq!(
        metric_names(r#"rate(forge_frames_total{ring="/forge_shm"}[1m])"#),
        ["forge_frames_total"]
    );
    assert_eq!(metric_names("xforge_a + forge_b"), ["forge_b"]);
}
