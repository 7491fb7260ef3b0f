//! forge-record and forge-replay as processes, against real rings fed and
//! drained by forge-stream and forge-core.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Bin, Rig};
use forge_record::read::ReadError;
use forge_record::{Recording, RingImage, SlotVerdict};
use nix::sys::signal::Signal;

const LONG: Duration = Duration::from_secs(180);

#[test]
fn a_million_consumed_frames_replay_into_a_second_ring_that_forge_core_verifies() {
    let mut rig = Rig::new("million");
    let (a, b) = (rig.segment("a"), rig.segment("b"));
    rig.init(&a, 512);
    rig.init(&b, 512);
    let out = rig.file("million.mcap");
    let out_s = out.to_str().unwrap().to_owned();
    let n = "1000000";
    let rec = rig.spawn(
        Bin::Record,
        &[
            "--segment",
            &a,
            "--consume",
            "--count",
            n,
            "--out",
            &out_s,
            "--wait",
            "yield",
            "--core",
            "0",
            "--report",
            "json",
        ],
    );
    rig.wait_for_consumer(&a);
    let stream = rig.spawn(
        Bin::Stream,
        &[
            "--segment",
            &a,
            "--count",
            n,
            "--wait",
            "yield",
            "--core",
            "1",
            "--size",
            "64-256",
        ],
    );
    rig.wait(stream, LONG).expect_code(0);
    let report = rig.wait(rec, LONG);
    report.expect_code(0);
    let json = report.json();
    assert_eq!(json["frames"], 1_000_000);
    assert_eq!(json["end"], "count_reached");

    // The recorder, as consumer, kept the segment's latency histogram, and
    // sampled it into the file.
    let rec = Recording::open(&out).unwrap();
    let last = rec.samples().last().expect("a sample at the end");
    assert_eq!(last.consumer_messages, 1_000_000);
    assert!(
        last.latency().count >= 1_000_000,
        "{}",
        last.latency().count
    );
    drop(rec);

    // The crate's reader lists the channels and their message counts.
    let info = rig.run(
        Bin::Replay,
        &["--in", &out_s, "--info", "--report", "json"],
        LONG,
    );
    info.expect_code(0);
    let info = info.json();
    assert_eq!(info["frames"], 1_000_000);
    assert_eq!(info["complete"], true);
    let channels = info["channels"].as_array().unwrap();
    let counts: Vec<(String, u64)> = channels
        .iter()
        .map(|c| {
            (
                c["topic"].as_str().unwrap().to_owned(),
                c["messages"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 2, "{counts:?}");
    // The events: samples (at least the one at the end) and the session's end.
    assert_eq!(counts[0].0, "/forge/events");
    assert!(counts[0].1 >= 2, "{counts:?}");
    assert!(counts[1].0.starts_with(&format!("{a}/session/")));
    assert_eq!(counts[1].1, 1_000_000);

    // Replayed into a second ring, forge-core --verify sees the recorded
    // sequence whole.
    let core = rig.spawn(
        Bin::Core,
        &[
            "--segment",
            &b,
            "--verify",
            "--count",
            n,
            "--wait",
            "yield",
            "--core",
            "0",
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
            &out_s,
            "--speed",
            "max",
            "--wait",
            "yield",
            "--core",
            "1",
        ],
    );
    rig.wait(replay, LONG).expect_code(0);
    let core = rig.wait(core, LONG);
    core.expect_code(0);
    let v = core.json();
    assert_eq!(v["frames"], 1_000_000);
    assert_eq!(
        (
            v["gaps"].as_u64(),
            v["duplicates"].as_u64(),
            v["corrupt"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
}

#[test]
fn a_tap_on_a_full_speed_stream_accounts_for_every_position_it_missed() {
    let mut rig = Rig::new("tap");
    let seg = rig.segment("a");
    rig.init(&seg, 512);
    let out = rig.file("tap.mcap");
    let out_s = out.to_str().unwrap().to_owned();
    let core = rig.spawn(
        Bin::Core,
        &["--segment", &seg, "--wait", "yield", "--core", "0"],
    );
    rig.wait_for_consumer(&seg);
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
    // Its output file appears once it has attached.
    rig.wait_for("the tap to start", Duration::from_secs(20), || out.exists());
    // Full speed: the producer spins (no timing is asserted).
    let stream = rig.spawn(
        Bin::Stream,
        &["--segment", &seg, "--count", "400000", "--core", "1"],
    );
    rig.wait(stream, LONG).expect_code(0);
    let produced = rig.head(&seg);
    assert_eq!(produced, 400_000);
    rig.signal(tap, Signal::SIGINT);
    let report = rig.wait(tap, LONG);
    report.expect_code(0);
    rig.signal(core, Signal::SIGINT);
    rig.wait(core, LONG).expect_code(0);

    let r = report.json();
    let frames = r["frames"].as_u64().unwrap();
    let missed = r["missed_frames"].as_u64().unwrap();
    let first = r["first_position"].as_u64().unwrap();
    assert_eq!(r["next_position"].as_u64().unwrap(), produced);
    assert_eq!(first + frames + missed, produced, "{r}");

    // The file says the same, position by position: every position from
    // the first to the producer's count is either a recorded frame
    // carrying its own sequence, or inside exactly one missed range.
    let rec = Recording::open(&out).unwrap();
    assert_eq!(rec.len(), frames);
    let mut recorded = BTreeSet::new();
    for f in rec.frames_from(0) {
        let f = f.unwrap();
        assert_eq!(f.sequence(), Some(f.position), "frame {}", f.index);
        assert!(recorded.insert(f.position), "position {} twice", f.position);
    }
    let mut covered = recorded.len() as u64;
    for m in rec.missed() {
        assert_eq!(
            (m.first_sequence, m.end_sequence),
            (m.first_position, m.end_position)
        );
        for p in m.first_position..m.end_position {
            assert!(
                !recorded.contains(&p),
                "position {p} both recorded and missed"
            );
        }
        covered += m.len();
    }
    assert_eq!(covered, produced - first);
    assert_eq!(rec.missed().len(), r["missed"].as_array().unwrap().len());
    assert_eq!(Some(rec.missed().len() as u64), r["missed_ranges"].as_u64());
    let ranges_total: u64 = rec.missed().iter().map(|m| m.len()).sum();
    assert_eq!(ranges_total, missed);
    // Ranges are disjoint and in order.
    for w in rec.missed().windows(2) {
        assert!(w[0].end_position <= w[1].first_position);
    }
    // The ring was sampled as the recording ended: the producer's count.
    let last = rec.samples().last().expect("a sample at the end");
    assert_eq!(last.head, produced);
    assert_eq!(last.producer_messages, produced);
    eprintln!(
        "tap recorded {frames} of {} frames, missed {missed} in {} ranges",
        produced - first,
        rec.missed().len()
    );
}

#[test]
fn a_recorder_killed_mid_file_leaves_a_file_readable_to_its_last_chunk() {
    let mut rig = Rig::new("kill");
    let seg = rig.segment("a");
    rig.init(&seg, 512);
    let out = rig.file("killed.mcap");
    let out_s = out.to_str().unwrap().to_owned();
    let rec = rig.spawn(
        Bin::Record,
        &[
            "--segment",
            &seg,
            "--consume",
            "--out",
            &out_s,
            "--wait",
            "park",
            "--core",
            "0",
            "--flush-every",
            "50ms",
            "--chunk-size",
            "64K",
        ],
    );
    rig.wait_for_consumer(&seg);
    let stream = rig.spawn(
        Bin::Stream,
        &[
            "--segment",
            &seg,
            "--rate",
            "100000",
            "--wait",
            "park",
            "--core",
            "1",
        ],
    );
    rig.wait_for("a few chunks on disk", Duration::from_secs(60), || {
        std::fs::metadata(&out).is_ok_and(|m| m.len() > 200_000)
    });
    rig.kill9(rec);
    rig.kill9(stream);

    let err = Recording::open(&out).unwrap_err();
    let ReadError::Incomplete {
        readable_bytes,
        file_bytes,
        frames,
        ..
    } = &err
    else {
        panic!("expected an incomplete file, got {err}");
    };
    let text = err.to_string();
    assert!(text.contains("readable up to byte"), "{text}");
    assert!(*readable_bytes <= *file_bytes && *frames > 0, "{text}");

    let rec = Recording::open_recovering(&out).unwrap();
    assert_eq!(rec.len(), *frames);
    assert!(!rec.is_complete());
    for (i, f) in rec.frames_from(0).enumerate() {
        let f = f.unwrap();
        assert_eq!(f.sequence(), Some(i as u64));
        f.frame().expect("every recovered frame verifies");
    }
    // The command line says the same, and replays what is readable.
    let info = rig.run(Bin::Replay, &["--in", &out_s, "--info"], LONG);
    info.expect_code(0);
    assert!(info.stdout.contains("INCOMPLETE"), "{}", info.stdout);
    let refused = rig.run(Bin::Replay, &["--in", &out_s, "--segment", &seg], LONG);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("readable up to byte"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--recover"), "{}", refused.stderr);
}

#[test]
fn an_image_of_a_live_ring_reads_back_as_taken() {
    let mut rig = Rig::new("image");
    let seg = rig.segment("a");
    rig.init(&seg, 64);
    // 50 frames into 64 slots, 40 of them consumed: pending, consumed and
    // free slots in one image.
    let core = rig.spawn(
        Bin::Core,
        &[
            "--segment",
            &seg,
            "--count",
            "40",
            "--batch",
            "1",
            "--wait",
            "yield",
            "--core",
            "0",
        ],
    );
    rig.wait_for_consumer(&seg);
    let stream = rig.spawn(
        Bin::Stream,
        &[
            "--segment",
            &seg,
            "--count",
            "50",
            "--batch",
            "1",
            "--wait",
            "yield",
            "--core",
            "1",
        ],
    );
    rig.wait(stream, LONG).expect_code(0);
    rig.wait(core, LONG).expect_code(0);
    let observer = forge_fabric::Observer::open(&seg, Duration::from_secs(5)).unwrap();
    let img = RingImage::capture(&observer, "test").unwrap();
    let path = rig.file("ring.forge");
    img.save(&path, &forge_cli::output::Output::new()).unwrap();
    let back = RingImage::load(&path).unwrap();
    assert_eq!(back, img);
    assert_eq!(back.slots.len(), 64);
    assert_eq!((back.snapshot.head, back.snapshot.tail), (50, 40));
    let count = |v: SlotVerdict| {
        back.slots
            .iter()
            .filter(|s| SlotVerdict::of(s) == v)
            .count()
    };
    assert_eq!(
        (count(SlotVerdict::Valid), count(SlotVerdict::Free)),
        (50, 14)
    );
    for s in &back.slots[..50] {
        let f = forge_frame::decode(&s.bytes).unwrap();
        assert_eq!(Some(f.header.sequence), s.position);
    }
    // The command line's image holds the same slots (the ring is still).
    let out = rig.file("cli.forge");
    let cli = rig.run(
        Bin::Record,
        &["--segment", &seg, "--image", out.to_str().unwrap()],
        LONG,
    );
    cli.expect_code(0);
    assert!(cli.stdout.contains("50 valid"), "{}", cli.stdout);
    assert_eq!(RingImage::load(&out).unwrap().slots, img.slots);
}

#[test]
fn bad_files_and_a_full_disk_get_clear_errors() {
    let mut rig = Rig::new("bad");
    let seg = rig.segment("a");
    rig.init(&seg, 64);
    let garbage = rig.file("garbage.mcap");
    std::fs::write(&garbage, b"this is not a recording").unwrap();
    let out = rig.run(
        Bin::Replay,
        &["--in", garbage.to_str().unwrap(), "--info"],
        LONG,
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("not an MCAP file: expected the magic"),
        "{}",
        out.stderr
    );

    let missing = rig.run(
        Bin::Replay,
        &["--in", "/nonexistent/x.mcap", "--info"],
        LONG,
    );
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("/nonexistent/x.mcap"),
        "{}",
        missing.stderr
    );

    // A device is not an output: refused, and never replaced, even when
    // asked to replace outputs.
    for force in [&[][..], &["--force"][..]] {
        let args = [&["--segment", &seg, "--out", "/dev/full"][..], force].concat();
        let full = rig.run(Bin::Record, &args, LONG);
        full.expect_code(1);
        assert!(
            full.stderr.contains("/dev/full") && full.stderr.contains("a character device"),
            "{}",
            full.stderr
        );
    }
    assert!(std::fs::metadata("/dev/full")
        .map(|m| std::os::unix::fs::FileTypeExt::is_char_device(&m.file_type()))
        .unwrap_or(true));

    // A disk that fills mid-file: a file size limit (SIGXFSZ ignored, so
    // the write fails with EFBIG instead of killing the recorder).
    let stream = rig.spawn(
        Bin::Stream,
        &[
            "--segment",
            &seg,
            "--rate",
            "50000",
            "--wait",
            "park",
            "--core",
            "1",
        ],
    );
    let limited = rig.file("limited.mcap");
    let script = format!(
        "trap '' XFSZ; ulimit -f 400; exec {} --segment {seg} --consume --core 0 --out {} --chunk-size 32K --flush-every 20ms --wait park --report json",
        Bin::Record.path().display(),
        limited.display()
    );
    let p = rig.spawn_cmd(std::path::Path::new("/bin/sh"), &["-c", &script]);
    let cut = rig.wait(p, LONG);
    cut.expect_code(1);
    assert!(cut.stderr.contains("File too large"), "{}", cut.stderr);
    assert!(
        cut.stderr
            .contains("readable up to its last complete chunk"),
        "{}",
        cut.stderr
    );
    rig.kill9(stream);
    let rec = Recording::open_recovering(&limited).unwrap();
    assert!(rec.len() > 100 && !rec.is_complete(), "{rec:?}");
    // The report's durable_frames reached the file for sure (one more chunk
    // may have, when the write failed in the index records after it), and
    // nothing the recorder did not take is in the file.
    let report = cut.json();
    let durable = report["durable_frames"].as_u64().unwrap();
    let taken = report["frames"].as_u64().unwrap();
    assert!(
        durable <= rec.len() && rec.len() <= taken,
        "durable {durable}, recovered {}, taken {taken}",
        rec.len()
    );
    for f in rec.frames_from(0) {
        f.unwrap().frame().expect("every recovered frame verifies");
    }

    let no_segment = rig.run(
        Bin::Record,
        &[
            "--segment",
            "/forge_test_rec_nothing_here",
            "--out",
            rig.file("x.mcap").to_str().unwrap(),
        ],
        LONG,
    );
    no_segment.expect_code(1);
    assert!(
        no_segment.stderr.contains("forge-init"),
        "{}",
        no_segment.stderr
    );
    assert!(
        !rig.file("x.mcap").exists(),
        "no file for a recording that never started"
    );
}

#[test]
fn a_following_tap_records_each_session_as_its_own_channel() {
    let mut rig = Rig::new("follow");
    let seg = rig.segment("a");
    rig.init(&seg, 64);
    let out = rig.file("follow.mcap");
    let out_s = out.to_str().unwrap().to_owned();
    let tap = rig.spawn(
        Bin::Record,
        &[
            "--segment",
            &seg,
            "--tap",
            "--follow",
            "--out",
            &out_s,
            "--wait",
            "park",
            "--report",
            "json",
        ],
    );
    rig.wait_for("the tap to start", Duration::from_secs(20), || out.exists());
    let mut sessions = Vec::new();
    for round in 0..2 {
        if round > 0 {
            // Replaces the segment under the tap, which follows.
            let init = rig.run(
                Bin::Init,
                &["--segment", &seg, "--slots", "64", "--force"],
                LONG,
            );
            init.expect_code(0);
        }
        sessions.push(
            forge_fabric::Observer::open(&seg, Duration::from_secs(5))
                .unwrap()
                .session_id(),
        );
        // The tap attaches to the new session before frames flow (it starts
        // at head): give it a moment, then stream slowly enough to keep all.
        std::thread::sleep(Duration::from_millis(300));
        let core = rig.spawn(
            Bin::Core,
            &[
                "--segment",
                &seg,
                "--count",
                "2000",
                "--wait",
                "park",
                "--core",
                "0",
            ],
        );
        let stream = rig.spawn(
            Bin::Stream,
            &[
                "--segment",
                &seg,
                "--count",
                "2000",
                "--rate",
                "20000",
                "--wait",
                "park",
                "--core",
                "1",
            ],
        );
        rig.wait(stream, LONG).expect_code(0);
        rig.wait(core, LONG).expect_code(0);
    }
    std::thread::sleep(Duration::from_millis(200));
    rig.signal(tap, Signal::SIGINT);
    let done = rig.wait(tap, LONG);
    done.expect_code(0);
    // One JSON report per session.
    let reports: Vec<serde_json::Value> = done
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "{}", done.stdout);
    assert_eq!(reports[0]["end"], "session_retired");
    assert_eq!(reports[1]["end"], "stopped");

    let rec = Recording::open(&out).unwrap();
    let ids: Vec<u64> = rec
        .sessions()
        .iter()
        .map(|s| s.identity.session_id)
        .collect();
    assert_eq!(ids, sessions);
    for (s, r) in rec.sessions().iter().zip(&reports) {
        let recorded = r["frames"].as_u64().unwrap();
        let missed = r["missed_frames"].as_u64().unwrap();
        assert_eq!(s.frames, recorded);
        assert_eq!(recorded + missed, 2_000, "{r}");
    }
    assert_eq!(rec.ends().len(), 2);
    // Replaying needs a choice of session, and names them.
    let seg_b = rig.segment("b");
    rig.init(&seg_b, 64);
    let refused = rig.run(Bin::Replay, &["--in", &out_s, "--segment", &seg_b], LONG);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("holds 2 sessions"),
        "{}",
        refused.stderr
    );
}
