//! Real processes streaming through a real segment: volume, and restarts of
//! either side after SIGKILL.

mod common;

use std::time::Duration;

use common::{Bin, Rig};
use nix::sys::signal::Signal;

/// Mixed frame sizes, header included.
const MIXED: &str = "32-512";

#[test]
fn five_million_mixed_size_frames_arrive_verified_and_gap_free() {
    const N: u64 = 5_000_000;
    let n = N.to_string();
    let mut rig = Rig::new("volume");
    rig.init(&[]);
    let core = rig.spawn(
        Bin::Core,
        &[
            "--count", &n, "--verify", "--report", "json", "--wait", "yield",
        ],
    );
    let stream = rig.spawn(
        Bin::Stream,
        &["--count", &n, "--size", MIXED, "--wait", "yield"],
    );
    let sent = rig.wait(stream, Duration::from_secs(150));
    sent.expect_code(0);
    let got = rig.wait(core, Duration::from_secs(30));
    got.expect_code(0);
    let report = got.json();
    assert_eq!(report["frames"], N);
    assert_eq!(report["gaps"], 0);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["corrupt"], 0);
    assert_eq!(report["first_sequence"], 0);
    assert_eq!(report["next_sequence"], N);
    assert_eq!(report["latency_ns"]["samples"], N);
    assert_eq!(report["end"], "count_reached");
    let snap = rig.snapshot();
    assert_eq!(
        report["session"],
        format!("{:#018x}", snap.identity.session_id)
    );
    assert_eq!((snap.head, snap.tail), (N, N));
    assert_eq!(snap.producer.messages, N);
    assert_eq!(snap.consumer.messages, N);
    // Every byte sent was received, and the sizes really were mixed.
    assert_eq!(report["bytes"], snap.producer.bytes);
    let mean = snap.producer.bytes as f64 / N as f64;
    assert!((250.0..300.0).contains(&mean), "mean frame size {mean}");
    // Both released their roles on the way out.
    assert_eq!((snap.producer.pid, snap.consumer.pid), (0, 0));
    assert_eq!(snap.latency.count, N);
    eprintln!("{}", sent.stdout);
}

#[test]
fn a_producer_killed_mid_stream_is_restarted_without_gap_or_duplicate() {
    let mut rig = Rig::new("producer_restart");
    rig.init(&["--slots", "256"]);
    let core = rig.spawn(
        Bin::Core,
        &["--verify", "--report", "json", "--wait", "yield"],
    );
    // Three producers in turn, each SIGKILLed mid-stream, then a fourth that
    // finishes its count.
    let mut killed_at = Vec::new();
    for round in 1..=3u64 {
        let p = rig.spawn(Bin::Stream, &["--size", MIXED, "--wait", "yield"]);
        let pid = rig.pid(p);
        let target = round * 150_000;
        rig.wait_for(
            "the consumer to read more frames",
            Duration::from_secs(60),
            |s| s.producer.pid == pid && s.tail >= target,
        );
        rig.kill9(p);
        killed_at.push(rig.snapshot().head);
    }
    let last = rig.spawn(
        Bin::Stream,
        &["--count", "100000", "--size", MIXED, "--wait", "yield"],
    );
    let out = rig.wait(last, Duration::from_secs(60));
    out.expect_code(0);
    let head = rig
        .wait_for("the consumer to catch up", Duration::from_secs(30), |s| {
            s.tail == s.head && s.producer.pid == 0
        })
        .head;
    rig.signal(core, Signal::SIGTERM);
    let got = rig.wait(core, Duration::from_secs(10));
    got.expect_code(0);
    let report = got.json();
    assert_eq!(report["end"], "stopped");
    assert_eq!(report["gaps"], 0, "{report}");
    assert_eq!(report["duplicates"], 0, "{report}");
    assert_eq!(report["corrupt"], 0, "{report}");
    assert_eq!(report["frames"], head);
    assert_eq!(report["next_sequence"], head);
    // The last producer picked up where the killed ones left off.
    let start = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("sequences"))
        .expect("sequences line");
    let resumed: u64 = start
        .split("..")
        .next()
        .unwrap()
        .trim()
        .replace(',', "")
        .parse()
        .unwrap();
    assert!(
        resumed >= *killed_at.last().unwrap(),
        "{resumed} {killed_at:?}"
    );
    assert_eq!(resumed + 100_000, head);
}

#[test]
fn a_consumer_killed_mid_stream_resumes_and_reads_at_most_batch_frames_twice() {
    const BATCH: u64 = 32;
    let batch = BATCH.to_string();
    let mut rig = Rig::new("consumer_restart");
    rig.init(&[]);
    let stream = rig.spawn(Bin::Stream, &["--size", MIXED, "--wait", "yield"]);
    // Where the next consumer starts, and the shared sample count then.
    let (mut first, mut samples_before) = (0, 0);
    for round in 1..=3u64 {
        let c = rig.spawn(
            Bin::Core,
            &["--verify", "--wait", "yield", "--batch", &batch],
        );
        let pid = rig.pid(c);
        rig.wait_for(
            "the consumer to read frames",
            Duration::from_secs(60),
            |s| s.consumer.pid == pid && s.latency.count >= samples_before + 100_000,
        );
        rig.kill9(c);
        // Each frame read adds one sample to the shared latency histogram,
        // so the consumer read positions first .. first + samples (it may
        // also have released one more frame than it recorded).
        let snap = rig.snapshot();
        let read_end = first + (snap.latency.count - samples_before);
        let stored_tail = snap.tail;
        assert!(
            stored_tail <= read_end + 1,
            "tail {stored_tail} is past the frames read (up to {read_end}): frames were skipped"
        );
        let read_twice = read_end.saturating_sub(stored_tail);
        eprintln!("round {round}: read up to {read_end}, resumes at {stored_tail}: {read_twice} frames will be read twice");
        assert!(
            read_twice <= BATCH,
            "a restart would read {read_twice} frames again, more than --batch {BATCH}"
        );
        assert!(stored_tail >= first, "tail went backwards");
        first = stored_tail;
        samples_before = snap.latency.count;
    }
    let c = rig.spawn(
        Bin::Core,
        &[
            "--verify", "--report", "json", "--wait", "yield", "--batch", &batch, "--count",
            "200000",
        ],
    );
    let got = rig.wait(c, Duration::from_secs(60));
    got.expect_code(0);
    let report = got.json();
    assert_eq!(
        report["first_sequence"], first,
        "resumed at the stored tail"
    );
    assert_eq!(report["frames"], 200_000);
    assert_eq!(report["next_sequence"], first + 200_000);
    assert_eq!(report["gaps"], 0);
    assert_eq!(report["duplicates"], 0);
    assert_eq!(report["corrupt"], 0);
    rig.signal(stream, Signal::SIGTERM);
    rig.wait(stream, Duration::from_secs(10)).expect_code(0);
}
