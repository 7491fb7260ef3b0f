//! `forge-init --force` can always replace what is at a name the caller may
//! unlink, and every tool says what is in the way instead of failing
//! obscurely: a segment from another time namespace (or a damaged creation
//! time), a file grown to 2^47 bytes, a FIFO, a directory.

mod common;

use std::time::{Duration, Instant};

use common::{assert_says, at, Bin, Rig};

const T: Duration = Duration::from_secs(20);

#[test]
fn a_creation_time_in_the_future_does_not_block_re_init() {
    let mut rig = Rig::new("replace_future");
    rig.init(&["--slots", "64"]);
    // From another time namespace, or damaged: later than anything here.
    rig.poke(at::CREATED_MONO_NS, &(u64::MAX / 2).to_le_bytes());
    let out = rig.run(Bin::Init, &["--slots", "64"], T);
    out.expect_code(0);
    assert!(out.stdout.contains("replaced  session"), "{}", out.stdout);
    rig.poke(at::CREATED_MONO_NS, &(u64::MAX / 2).to_le_bytes());
    rig.run(Bin::Init, &["--force"], T).expect_code(0);
}

#[test]
fn a_segment_file_grown_to_2_pow_47_bytes_is_named_and_replaced_with_force() {
    let mut rig = Rig::new("replace_grown");
    rig.init(&["--slots", "64"]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(rig.shm_path())
        .unwrap()
        .set_len(1 << 47)
        .unwrap();
    let declared =
        forge_fabric::layout::segment_size(64, forge_fabric::PAYLOAD_CAPACITY).to_string();
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--wait", "park"], T);
        out.expect_code(1);
        assert_says(
            &out,
            &["140737488355328 bytes", &declared, "forge-init --force"],
        );
    }
    let top = rig.run(Bin::Top, &["--once", "--no-wait"], T);
    top.expect_code(1);
    assert_says(&top, &["140737488355328 bytes", &declared]);
    let out = rig.run(Bin::Init, &[], T);
    out.expect_code(1);
    assert_says(&out, &["140737488355328 bytes", "forge-init --force"]);
    let out = rig.run(Bin::Init, &["--force"], T);
    out.expect_code(0);
    assert!(
        out.stdout.contains("replaced  a non-Forge object"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::metadata(rig.shm_path()).unwrap().len(),
        forge_fabric::layout::segment_size(512, forge_fabric::PAYLOAD_CAPACITY) as u64
    );
}

#[test]
fn a_fifo_at_the_name_is_named_at_once_by_every_tool_and_replaced_with_force() {
    let mut rig = Rig::new("replace_fifo");
    nix::unistd::mkfifo(
        rig.shm_path().as_str(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    for (bin, args) in [
        (Bin::Stream, &["--wait", "park"][..]),
        (Bin::Core, &["--wait", "park"][..]),
        (Bin::Top, &["--once", "--no-wait"][..]),
        (Bin::Init, &[][..]),
    ] {
        let started = Instant::now();
        let out = rig.run(bin, args, T);
        let took = started.elapsed();
        out.expect_code(1);
        assert_says(
            &out,
            &["is a FIFO (named pipe), not a shared-memory segment"],
        );
        // Generous for a loaded 2-core machine; a blocking open never ends.
        assert!(took < Duration::from_secs(5), "{bin:?} took {took:?}");
    }
    let out = rig.run(Bin::Init, &["--force"], T);
    out.expect_code(0);
    assert!(out.stdout.contains("FIFO"), "{}", out.stdout);
    assert!(std::fs::metadata(rig.shm_path()).unwrap().is_file());
}

#[test]
fn a_directory_at_the_name_is_named_and_removed_by_force_only_when_empty() {
    let mut rig = Rig::new("replace_dir");
    std::fs::create_dir(rig.shm_path()).unwrap();
    std::fs::write(format!("{}/keep", rig.shm_path()), b"someone's").unwrap();
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--wait", "park"], T);
        out.expect_code(1);
        assert_says(
            &out,
            &["is a directory, not a shared-memory segment", "rmdir"],
        );
    }
    let top = rig.run(Bin::Top, &["--once", "--no-wait"], T);
    top.expect_code(1);
    assert_says(&top, &["is a directory"]);
    let out = rig.run(Bin::Init, &[], T);
    out.expect_code(1);
    assert_says(&out, &["is a directory", "rmdir"]);
    let out = rig.run(Bin::Init, &["--force"], T);
    out.expect_code(1);
    assert_says(
        &out,
        &["a directory that is not empty", "Forge does not delete it"],
    );
    assert!(std::fs::metadata(format!("{}/keep", rig.shm_path())).is_ok());
    std::fs::remove_file(format!("{}/keep", rig.shm_path())).unwrap();
    let out = rig.run(Bin::Init, &["--force"], T);
    out.expect_code(0);
    assert!(std::fs::metadata(rig.shm_path()).unwrap().is_file());
}
