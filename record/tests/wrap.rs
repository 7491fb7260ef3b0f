//! Ring positions wrap at 2^64 (issue 19, case 6): forge-stream and
//! forge-core, a tap, a consuming recorder and a replay across the wrap,
//! and a tap that meets a head no ring can have.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use common::{Bin, Rig};
use forge_record::Recording;
use nix::sys::signal::Signal;

const LONG: Duration = Duration::from_secs(120);
/// head = tail = 2^64 - 100: the ring crosses the wrap 100 frames in.
const NEAR_END: u64 = u64::MAX - 99;
const HEAD: u64 = 128;
const TAIL: u64 = 256;

/// Writes a u64 into the segment's header, as any writer could.
fn poke(segment: &str, offset: u64, value: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm{segment}"))
        .unwrap()
        .write_all_at(&value.to_le_bytes(), offset)
        .unwrap();
}

/// A freshly made segment whose indices stand at `start`.
fn ring_at(rig: &mut Rig, tag: &str, slots: u32, start: u64) -> String {
    let seg = rig.segment(tag);
    rig.init(&seg, slots);
    poke(&seg, TAIL, start);
    poke(&seg, HEAD, start);
    seg
}

/// Every position from `first` for `n` frames, in wrapping order.
fn positions(first: u64, n: u64) -> Vec<u64> {
    (0..n).map(|k| first.wrapping_add(k)).collect()
}

#[test]
fn a_ring_crossing_2_64_is_streamed_tapped_recorded_and_replayed_whole() {
    let mut rig = Rig::new("wrap");
    let a = ring_at(&mut rig, "a", 64, NEAR_END);
    let consumed = rig.file("consumed.mcap");
    let tapped = rig.file("tapped.mcap");
    let (consumed_s, tapped_s) = (
        consumed.to_str().unwrap().to_owned(),
        tapped.to_str().unwrap().to_owned(),
    );
    let rec = rig.spawn(
        Bin::Record,
        &[
            "--segment",
            &a,
            "--consume",
            "--count",
            "1000",
            "--out",
            &consumed_s,
            "--wait",
            "yield",
            "--report",
            "json",
        ],
    );
    rig.wait_for_consumer(&a);
    let tap = rig.spawn(
        Bin::Record,
        &[
            "--segment",
            &a,
            "--tap",
            "--out",
            &tapped_s,
            "--wait",
            "yield",
            "--report",
            "json",
        ],
    );
    rig.wait_for("the tap to start", Duration::from_secs(20), || {
        tapped.exists()
    });
    let stream = rig.spawn(
        Bin::Stream,
        &["--segment", &a, "--count", "1000", "--wait", "yield"],
    );
    rig.wait(stream, LONG).expect_code(0);
    let report = rig.wait(rec, LONG);
    report.expect_code(0);
    let end = NEAR_END.wrapping_add(1000);
    assert_eq!(rig.head(&a), end);
    rig.signal(tap, Signal::SIGINT);
    let tap = rig.wait(tap, LONG);
    tap.expect_code(0);

    // The consuming recorder: every frame once, in order, sequence =
    // position, across the wrap.
    let r = report.json();
    assert_eq!(r["frames"], 1000, "{r}");
    assert_eq!(r["first_position"].as_u64(), Some(NEAR_END), "{r}");
    assert_eq!(r["next_position"].as_u64(), Some(end), "{r}");
    let rec = Recording::open(&consumed).unwrap();
    let got: Vec<u64> = rec.frames_from(0).map(|f| f.unwrap().position).collect();
    assert_eq!(got, positions(NEAR_END, 1000));
    for f in rec.frames_from(0) {
        let f = f.unwrap();
        assert_eq!(f.sequence(), Some(f.position));
    }
    drop(rec);

    // The tap: every position from its first to head recorded once or
    // inside one missed range, and every range runs forward.
    let t = tap.json();
    let first = t["first_position"].as_u64().unwrap();
    let frames = t["frames"].as_u64().unwrap();
    let missed = t["missed_frames"].as_u64().unwrap();
    assert_eq!(t["next_position"].as_u64(), Some(end), "{t}");
    assert_eq!(first.wrapping_add(frames + missed), end, "{t}");
    let rec = Recording::open(&tapped).unwrap();
    let mut seen = BTreeSet::new();
    for f in rec.frames_from(0) {
        let f = f.unwrap();
        assert_eq!(f.sequence(), Some(f.position));
        assert!(seen.insert(f.position), "position {} twice", f.position);
    }
    assert_eq!(seen.len() as u64, frames);
    let mut covered = frames;
    for m in rec.missed() {
        let forward = m.end_position.wrapping_sub(m.first_position) as i64 >= 0;
        assert!(forward, "{m:?} runs backwards");
        assert!(m.len() <= 1000, "{m:?}");
        for p in positions(m.first_position, m.len()) {
            assert!(!seen.contains(&p), "position {p} recorded and missed");
        }
        covered += m.len();
    }
    assert_eq!(covered, end.wrapping_sub(first), "{t}");
    drop(rec);

    // Replayed into a ring that crosses the wrap too, forge-core --verify
    // sees the recorded stream whole.
    let b = ring_at(&mut rig, "b", 64, NEAR_END);
    let core = rig.spawn(
        Bin::Core,
        &[
            "--segment",
            &b,
            "--verify",
            "--count",
            "1000",
            "--wait",
            "yield",
            "--report",
            "json",
        ],
    );
    rig.wait_for_consumer(&b);
    let replay = rig.spawn(
        Bin::Replay,
        &[
            "--segment",
            &b,
            "--in",
            &consumed_s,
            "--speed",
            "max",
            "--wait",
            "yield",
        ],
    );
    rig.wait(replay, LONG).expect_code(0);
    let core = rig.wait(core, LONG);
    core.expect_code(0);
    let v = core.json();
    assert_eq!(v["frames"], 1000, "{v}");
    for k in ["gaps", "duplicates", "corrupt"] {
        assert_eq!(v[k], 0, "{k}: {v}");
    }
}

#[test]
fn a_tap_that_meets_an_impossible_head_waits_for_a_sane_one_and_records_on() {
    let mut rig = Rig::new("wrap_head");
    // Room for every frame: nothing is lapped, so nothing may be missed.
    let seg = rig.segment("a");
    rig.init(&seg, 4096);
    let out = rig.file("tap.mcap");
    let out_s = out.to_str().unwrap().to_owned();
    let tap = rig.spawn(
        Bin::Record,
        &[
            "--segment",
            &seg,
            "--tap",
            "--out",
            &out_s,
            "--wait",
            "yield",
            "--report",
            "json",
        ],
    );
    rig.wait_for("the tap to start", Duration::from_secs(20), || out.exists());
    let stream = rig.spawn(
        Bin::Stream,
        &["--segment", &seg, "--count", "1000", "--rate", "2000"],
    );
    let s = seg.clone();
    rig.wait_for("200 frames", LONG, || {
        forge_fabric::Observer::open(&s, Duration::ZERO)
            .ok()
            .and_then(|o| o.snapshot().ok())
            .is_some_and(|snap| snap.head >= 200)
    });
    // One write of head = 2^63; the producer, paused a moment so that the
    // tap cannot miss it, puts its own head back at its next store.
    rig.signal(stream, Signal::SIGSTOP);
    poke(&seg, HEAD, 1 << 63);
    std::thread::sleep(Duration::from_millis(200));
    rig.signal(stream, Signal::SIGCONT);
    rig.wait(stream, LONG).expect_code(0);
    assert_eq!(rig.head(&seg), 1000);
    std::thread::sleep(Duration::from_millis(100));
    rig.signal(tap, Signal::SIGINT);
    let tap = rig.wait(tap, LONG);
    tap.expect_code(0);
    assert!(tap.stderr.contains("impossible"), "{}", tap.stderr);
    let t = tap.json();
    let first = t["first_position"].as_u64().unwrap();
    assert_eq!(t["next_position"].as_u64(), Some(1000), "{t}");
    assert_eq!(t["missed_frames"], 0, "{t}");
    assert_eq!(t["frames"].as_u64(), Some(1000 - first), "{t}");
    let rec = Recording::open(&out).unwrap();
    let got: Vec<u64> = rec.frames_from(0).map(|f| f.unwrap().position).collect();
    assert_eq!(got, positions(first, 1000 - first));
}
