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
            "at most 64M",
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
