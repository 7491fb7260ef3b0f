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
