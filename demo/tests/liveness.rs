//! Who holds a role is the kernel's answer, not a pid's: a producer in
//! another pid namespace (whose pid means nothing here) keeps its role, a
//! dead holder whose pid was reused by an unrelated process does not, and
//! the signals that end a daemon — from a closed terminal or in its first
//! milliseconds — end it cleanly.

mod common;

use std::time::Duration;

use common::{assert_says, at, Bin, Rig};
use forge_fabric::clock::monotonic_ns;
use nix::sys::signal::Signal;

const T: Duration = Duration::from_secs(20);

/// As the producer's pid reads from another pid namespace: no such process.
const FOREIGN_PID: u32 = 4_194_300;

#[test]
fn a_producer_whose_pid_means_nothing_here_keeps_its_role() {
    let mut rig = Rig::new("live_foreign_pid");
    rig.init(&["--slots", "64"]);
    let core = rig.spawn(
        Bin::Core,
        &["--verify", "--wait", "park", "--report", "json"],
    );
    let stream = rig.spawn(Bin::Stream, &["--rate", "2000", "--wait", "park"]);
    let sp = rig.pid(stream);
    rig.wait_for("the producer role", T, |s| s.producer.pid == sp);
    // Seen from the host, a producer in a container has a pid that does
    // not exist here (or belongs to someone else).
    rig.poke(at::PRODUCER_PID, &FOREIGN_PID.to_le_bytes());
    let second = rig.run(Bin::Stream, &["--count", "100", "--wait", "park"], T);
    second.expect_code(1);
    assert_says(&second, &["held by a live process", "exactly one producer"]);
    assert!(rig.running(stream), "the holder was not disturbed");
    std::thread::sleep(Duration::from_millis(200));
    rig.signal(stream, Signal::SIGTERM);
    rig.wait(stream, T).expect_code(0);
    let head = rig.drained_head(T);
    rig.signal(core, Signal::SIGTERM);
    let out = rig.wait(core, T);
    out.expect_code(0);
    let report = out.json();
    assert_eq!(report["next_sequence"], head, "every frame read once");
    for k in ["gaps", "duplicates", "corrupt"] {
        assert_eq!(report[k], 0, "{k}");
    }
}

/// The same with a real pid namespace, when this machine lets us make one.
#[test]
fn a_producer_in_another_pid_namespace_keeps_its_role() {
    let unshare = ["--pid", "--fork", "--mount-proc", "--kill-child"];
    let works = std::process::Command::new("unshare")
        .args(unshare)
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        eprintln!("SKIPPED: unshare --pid is not available here (needs root or user namespaces)");
        return;
    }
    let mut rig = Rig::new("live_pidns");
    rig.init(&["--slots", "64"]);
    let segment = rig.segment.clone();
    let mut args: Vec<&str> = unshare.to_vec();
    args.extend([
        Bin::Stream.path(),
        "--segment",
        &segment,
        "--rate",
        "2000",
        "--wait",
        "park",
    ]);
    let _contained = rig.spawn_raw_cmd("unshare", &args);
    let snap = rig.wait_for("the contained producer", T, |s| {
        s.producer.role_state == forge_fabric::RoleState::Active
    });
    let ours = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self/ns/pid").unwrap().ino()
    };
    assert_ne!(snap.producer.pidns, ours, "it runs in its own namespace");
    assert_eq!(snap.producer.lock_held, Some(true));
    let obs = rig.observer();
    assert!(
        matches!(
            obs.verify_holder(forge_fabric::Role::Producer),
            forge_fabric::observe::HolderCheck::OtherNamespace { .. }
        ),
        "{}",
        obs.verify_holder(forge_fabric::Role::Producer)
    );
    let second = rig.run(Bin::Stream, &["--count", "100", "--wait", "park"], T);
    second.expect_code(1);
    assert_says(&second, &["held by a live process"]);
}

#[test]
fn a_dead_holder_s_pid_reused_by_another_process_does_not_block_the_role() {
    let mut rig = Rig::new("live_reused_pid");
    rig.init(&["--slots", "64"]);
    let victim = rig.spawn_raw_cmd("sleep", &["30"]);
    let vpid = rig.pid(victim);
    // A holder that died without a clean stop, whose pid now belongs to
    // an unrelated, live process, with a heartbeat that looks fresh.
    rig.poke(at::PRODUCER_PID, &vpid.to_le_bytes());
    rig.poke(
        at::PRODUCER_ROLE_STATE,
        &forge_fabric::RoleState::Active.code().to_le_bytes(),
    );
    rig.poke(at::PRODUCER_HEARTBEAT, &monotonic_ns().to_le_bytes());
    let out = rig.run(Bin::Stream, &["--count", "10", "--wait", "park"], T);
    out.expect_code(0);
    assert!(rig.running(victim), "the unrelated process was not touched");
    // forge-init's "is it live?" asks the same lock.
    let init = rig.run(Bin::Init, &[], T);
    init.expect_code(0);
}

#[test]
fn sighup_from_a_closed_terminal_stops_each_daemon_cleanly() {
    let mut rig = Rig::new("live_sighup");
    rig.init(&["--slots", "64"]);
    let core = rig.spawn(Bin::Core, &["--verify", "--wait", "park"]);
    let stream = rig.spawn(Bin::Stream, &["--rate", "2000", "--wait", "park"]);
    let (sp, cp) = (rig.pid(stream), rig.pid(core));
    rig.wait_for("both roles", T, |s| {
        s.producer.pid == sp && s.consumer.pid == cp
    });
    for (p, says) in [
        (stream, "forge-stream: sent"),
        (core, "forge-core: received"),
    ] {
        rig.signal(p, Signal::SIGHUP);
        let out = rig.wait(p, T);
        out.expect_code(0);
        assert!(out.stdout.contains(says), "{}", out.stdout);
        assert!(out.stdout.contains("ended      stopped"), "{}", out.stdout);
    }
    let snap = rig.snapshot();
    for side in [&snap.producer, &snap.consumer] {
        assert_eq!(side.role_state, forge_fabric::RoleState::Stopped);
        assert_eq!(side.pid, 0);
        assert_eq!(side.lock_held, Some(false));
    }
}

#[test]
fn a_stop_signal_in_the_first_milliseconds_is_a_clean_stop() {
    let mut rig = Rig::new("live_early_term");
    rig.init(&["--slots", "64"]);
    for bin in [Bin::Stream, Bin::Core] {
        for sig in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT] {
            // Blocked by the parent, so the signal is pending from the very
            // first instruction: the daemon must install its handler before
            // anything else and unblock the signal itself.
            let p = rig.spawn_blocked(bin, &["--wait", "park"], &[sig]);
            rig.signal(p, sig);
            let out = rig.wait(p, T);
            out.expect_code(0);
        }
    }
    let snap = rig.snapshot();
    assert_eq!(snap.producer.lock_held, Some(false));
    assert_eq!(snap.consumer.lock_held, Some(false));
}
