//! Issue 19, what forge-record and forge-replay must not trust: paths they
//! write (case 4), files they read (case 7), numbers on their command line
//! (case 8). Each case runs the real programs.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use common::{Bin, Rig};
use nix::sys::signal::Signal;

const LONG: Duration = Duration::from_secs(60);

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn case_4_a_recording_or_image_never_writes_through_a_link_and_replaces_only_when_forced() {
    let mut rig = Rig::new("links");
    let seg = rig.segment("a");
    rig.init(&seg, 64);
    let precious = rig.file("precious");
    std::fs::write(&precious, b"root's file").unwrap();
    let unchanged = |what: &str| {
        assert_eq!(
            std::fs::read(&precious).unwrap(),
            b"root's file",
            "{what} wrote through the link"
        );
    };

    // --out is a link: refused, target untouched.
    let link = rig.file("link.mcap");
    symlink(&precious, &link).unwrap();
    let out = rig.run(
        Bin::Record,
        &[
            "--segment",
            &seg,
            "--out",
            link.to_str().unwrap(),
            "--count",
            "1",
        ],
        LONG,
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("link.mcap already exists (a symbolic link)")
            && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    unchanged("--out");

    // The next rolled part is a planted link: refused before recording.
    let base = rig.file("ring.mcap");
    symlink(&precious, rig.file("ring.1.mcap")).unwrap();
    let out = rig.run(
        Bin::Record,
        &[
            "--segment",
            &seg,
            "--out",
            base.to_str().unwrap(),
            "--max-duration",
            "1s",
        ],
        LONG,
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("ring.1.mcap already exists (a symbolic link)"),
        "{}",
        out.stderr
    );
    assert!(!base.exists(), "nothing is written when refused");
    unchanged("a rolled part");

    // --force: the link at --out and the one at the rolled part are
    // replaced by files, never followed.
    let rec = rig.spawn(
        Bin::Record,
        &[
            "--segment",
            &seg,
            "--out",
            base.to_str().unwrap(),
            "--max-duration",
            "1s",
            "--force",
        ],
    );
    rig.wait_for("a roll to ring.1.mcap", LONG, || {
        !is_link(&rig_path(&base, "ring.1.mcap"))
    });
    std::thread::sleep(Duration::from_millis(300));
    rig.signal(rec, Signal::SIGINT);
    rig.wait(rec, LONG).expect_code(0);
    assert!(!is_link(&rig.file("ring.1.mcap")));
    unchanged("a forced roll");

    // --image through a link: refused; with --force the link is replaced.
    let img = rig.file("ring.forge");
    symlink(&precious, &img).unwrap();
    let out = rig.run(
        Bin::Record,
        &["--segment", &seg, "--image", img.to_str().unwrap()],
        LONG,
    );
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("ring.forge already exists (a symbolic link)"),
        "{}",
        out.stderr
    );
    unchanged("--image");
    rig.run(
        Bin::Record,
        &[
            "--segment",
            &seg,
            "--image",
            img.to_str().unwrap(),
            "--force",
        ],
        LONG,
    )
    .expect_code(0);
    assert!(!is_link(&img));
    forge_record::RingImage::load(&img).expect("a whole image replaced the link");
    unchanged("--image --force");

    // A left-over temporary name is no way in either: no file but the
    // outputs themselves is left in the directory.
    let names: Vec<String> = std::fs::read_dir(rig.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

fn rig_path(base: &Path, name: &str) -> std::path::PathBuf {
    base.with_file_name(name)
}

#[test]
fn case_8_durations_and_sizes_out_of_range_are_usage_errors_naming_the_limit() {
    let mut rig = Rig::new("numbers");
    let seg = rig.segment("a");
    let out = rig.file("n.mcap");
    let out = out.to_str().unwrap();
    let record = |flag: &str, value: &str| {
        ["--segment", &seg, "--out", out, "--count", "1", flag, value].map(str::to_owned)
    };
    let cases: Vec<(Bin, Vec<String>, &str)> = vec![
        // Once a panic (exit 101): now not a duration at all.
        (
            Bin::Record,
            record("--max-duration", "1e20s").into(),
            "not a duration",
        ),
        (
            Bin::Record,
            record("--flush-every", "1e20s").into(),
            "not a duration",
        ),
        // Too large for any duration, or for this one.
        (
            Bin::Record,
            record("--max-duration", "100000000000000000000s").into(),
            "at most 365d",
        ),
        (
            Bin::Record,
            record("--flush-every", "2h").into(),
            "at most 1h",
        ),
        // Zero where zero makes no sense (it rolled 297 empty files).
        (
            Bin::Record,
            record("--max-duration", "0s").into(),
            "0s makes no sense",
        ),
        (
            Bin::Record,
            record("--flush-every", "0s").into(),
            "0s makes no sense",
        ),
        // A bare number: seconds? milliseconds? Refused everywhere.
        (
            Bin::Record,
            record("--max-duration", "10").into(),
            "needs a unit",
        ),
        (
            Bin::Record,
            record("--chunk-size", "0").into(),
            "0 makes no sense",
        ),
        (
            Bin::Record,
            record("--chunk-size", "1T").into(),
            "at most 4M",
        ),
        (
            Bin::Record,
            record("--max-size", "99999999999999999999").into(),
            "at most 16T",
        ),
        (
            Bin::Replay,
            ["--in", out, "--from", "+1e20s"].map(str::to_owned).into(),
            "not a duration",
        ),
        (
            Bin::Replay,
            ["--in", out, "--from", "+100000000000000000000s"]
                .map(str::to_owned)
                .into(),
            "at most 36500d",
        ),
        (
            Bin::Replay,
            ["--in", out, "--speed", "1e-300"].map(str::to_owned).into(),
            "out of range",
        ),
        (
            Bin::Replay,
            ["--in", out, "--rate", "0"].map(str::to_owned).into(),
            "--rate",
        ),
    ];
    for (bin, args, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = rig.run(bin, &args, LONG);
        assert_eq!(
            run.code,
            Some(2),
            "{bin:?} {args:?}: expected a usage error\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(says) && !run.stderr.contains("panicked"),
            "{bin:?} {args:?}: expected {says:?}\n{}",
            run.stderr
        );
    }
    assert!(!Path::new(out).exists());
}

/// A recording whose session claims `slot_count` slots.
fn crafted_recording(path: &Path, slot_count: u32) {
    use forge_record::identity::SessionIdentity;
    use forge_record::{RecordingWriter, WriterOptions};
    let mut w = RecordingWriter::create(path, WriterOptions::default()).unwrap();
    w.add_session(SessionIdentity {
        segment: "/crafted".into(),
        session_id: 7,
        slot_count,
        ..Default::default()
    });
    let mut buf = [0u8; 96];
    for i in 0..100u64 {
        let n = forge_frame::encode(&mut buf, i, i, 1, forge_frame::FrameKind::Metric, &[2; 40])
            .unwrap();
        w.write_frame(7, i, 0, &buf[..n], 1_000 + i).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn case_7_replay_refuses_an_impossible_ring_and_opens_a_recording_of_an_idle_one() {
    let mut rig = Rig::new("crafted");
    // forge-replay --info accepted 2,147,483,648 slots, and 3.
    for slots in [1u32 << 31, 3, 0] {
        let path = rig.file(&format!("s{slots}.mcap"));
        crafted_recording(&path, slots);
        for extra in [&["--info"][..], &["--info", "--report", "json"][..]] {
            let args = [&["--in", path.to_str().unwrap()][..], extra].concat();
            let out = rig.run(Bin::Replay, &args, LONG);
            out.expect_code(1);
            assert!(
                out.stderr.contains(&format!(
                    "slot_count is {slots}, expected a power of two from 2 to 1048576"
                )) && !out.stderr.contains("--recover"),
                "{}",
                out.stderr
            );
        }
    }

    // A real tap on an idle ring: no frame, and still a recording that
    // opens, says it is empty, and names the ring it recorded.
    let seg = rig.segment("idle");
    rig.init(&seg, 64);
    let idle = rig.file("idle.mcap");
    let rec = rig.spawn(
        Bin::Record,
        &["--segment", &seg, "--out", idle.to_str().unwrap()],
    );
    std::thread::sleep(Duration::from_millis(1500));
    rig.signal(rec, Signal::SIGINT);
    rig.wait(rec, LONG).expect_code(0);
    let info = rig.run(
        Bin::Replay,
        &["--in", idle.to_str().unwrap(), "--info", "--report", "json"],
        LONG,
    );
    info.expect_code(0);
    let v = info.json();
    assert_eq!(v["frames"], 0, "{v}");
    assert_eq!(v["complete"], true, "{v}");
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{v}");
    assert_eq!(sessions[0]["identity"]["segment"], seg.as_str(), "{v}");
    assert_eq!(sessions[0]["identity"]["slot_count"], "64", "{v}");
}
