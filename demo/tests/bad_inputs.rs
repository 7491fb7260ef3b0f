//! Bad input gets a clear message and the documented exit code, and nothing
//! panics: 1 for bad input found at run time, 2 for a command line that does
//! not parse.

mod common;

use std::time::Duration;

use common::{assert_says, Bin, Rig};

const T: Duration = Duration::from_secs(20);

#[test]
fn a_missing_segment_is_an_error_that_says_to_run_forge_init() {
    let mut rig = Rig::new("missing");
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--wait", "park"], T);
        out.expect_code(1);
        assert_says(
            &out,
            &[&rig.segment, "does not exist", "forge-init --segment"],
        );
    }
}

#[test]
fn a_file_that_is_not_a_forge_segment_is_refused_and_only_force_replaces_it() {
    let mut rig = Rig::new("foreign");
    std::fs::write(rig.shm_path(), vec![0xAB; 8192]).unwrap();
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--wait", "park"], T);
        out.expect_code(1);
        assert_says(&out, &["is not a Forge segment", "forge-init --force"]);
    }
    let out = rig.run(Bin::Init, &[], T);
    out.expect_code(1);
    assert_says(&out, &["--force"]);
    assert_eq!(std::fs::read(rig.shm_path()).unwrap(), vec![0xAB; 8192]);
    let out = rig.init(&["--force"]);
    assert!(out.stdout.contains("replaced  a non-Forge object"));
}

#[test]
fn a_file_shorter_than_a_header_is_refused() {
    let mut rig = Rig::new("short");
    std::fs::write(rig.shm_path(), b"FORGERNG but not much else").unwrap();
    let out = rig.run(Bin::Core, &["--wait", "park"], T);
    out.expect_code(1);
    assert_says(&out, &["too short"]);
}

#[test]
fn a_core_that_does_not_exist_is_refused_before_touching_the_segment() {
    let mut rig = Rig::new("core999");
    rig.init(&[]);
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--core", "999", "--wait", "park"], T);
        out.expect_code(1);
        assert_says(&out, &["core 999 does not exist", "available"]);
    }
    let snap = rig.snapshot();
    assert_eq!((snap.producer.pid, snap.consumer.pid), (0, 0));
}

#[test]
fn a_frame_larger_than_a_slot_is_refused() {
    let mut rig = Rig::new("size");
    rig.init(&[]);
    for size in ["5000", "64-5000"] {
        let out = rig.run(Bin::Stream, &["--size", size, "--wait", "park"], T);
        out.expect_code(1);
        assert_says(&out, &["5000 bytes", "at most 4096 bytes"]);
    }
    let out = rig.run(Bin::Stream, &["--size", "8", "--wait", "park"], T);
    out.expect_code(1);
    assert_says(&out, &["at least 32 bytes"]);
    assert_eq!(rig.snapshot().producer.pid, 0);
}

#[test]
fn bad_init_arguments_are_refused() {
    let mut rig = Rig::new("badinit");
    let out = rig.run(Bin::Init, &["--slots", "1000"], T);
    out.expect_code(1);
    assert_says(&out, &["slot count 1000", "power of two"]);
    let out = rig.run_raw(Bin::Init, &["--segment", "no_slash"], T);
    out.expect_code(2);
    assert_says(&out, &["invalid segment name", "must start with '/'"]);
    let out = rig.run(Bin::Init, &["--mode", "800"], T);
    out.expect_code(2);
    assert_says(&out, &["not an octal mode"]);
    assert!(!std::path::Path::new(&rig.shm_path()).exists());
}

#[test]
fn a_command_line_that_does_not_parse_is_a_usage_error() {
    let mut rig = Rig::new("usage");
    let cases: &[(Bin, &[&str], &str)] = &[
        (Bin::Stream, &["--wait", "fast"], "fast"),
        (Bin::Stream, &["--rate", "lots"], "lots"),
        (Bin::Stream, &["--size", "huge"], "not a size"),
        (Bin::Core, &["--report", "xml"], "xml"),
        (Bin::Core, &["--bogus"], "--bogus"),
        (Bin::Init, &["--slots", "-1"], "-1"),
    ];
    for (bin, args, needle) in cases {
        let out = rig.run(*bin, args, T);
        out.expect_code(2);
        assert_says(&out, &[needle]);
    }
}

#[test]
fn help_shows_an_example_and_the_exit_codes() {
    let mut rig = Rig::new("help");
    for bin in [Bin::Init, Bin::Stream, Bin::Core] {
        let out = rig.run_raw(bin, &["--help"], T);
        out.expect_code(0);
        for needle in [
            "Examples:",
            "Exit codes:",
            "3  the segment was retired",
            "--segment",
            "FORGE_SEGMENT",
        ] {
            assert!(out.stdout.contains(needle), "{needle}:\n{}", out.stdout);
        }
    }
}

#[test]
fn the_segment_name_comes_from_forge_segment_when_not_given() {
    let rig = Rig::new("env");
    let out = std::process::Command::new(Bin::Init.path())
        .env("FORGE_SEGMENT", &rig.segment)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&rig.segment));
    assert!(std::path::Path::new(&rig.shm_path()).exists());
}
