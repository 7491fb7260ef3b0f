//! Segment lifecycle with real daemons: re-initialization under load,
//! refusing to replace a live segment, one producer per segment.

mod common;

use std::time::{Duration, Instant};

use common::{session_of, Bin, Rig};

#[test]
fn reinit_under_load_stops_both_daemons_with_exit_3_and_a_fresh_pair_streams_cleanly() {
    let mut rig = Rig::new("reinit");
    let old = session_of(&rig.init(&[]).stdout);
    let core = rig.spawn(Bin::Core, &["--verify", "--wait", "yield"]);
    let stream = rig.spawn(Bin::Stream, &["--wait", "yield", "--size", "32-512"]);
    rig.wait_for("frames to flow", Duration::from_secs(30), |s| {
        s.tail >= 100_000 && s.producer.pid != 0 && s.consumer.pid != 0
    });

    let init = rig.run(Bin::Init, &["--force"], Duration::from_secs(20));
    init.expect_code(0);
    let new = session_of(&init.stdout);
    assert_ne!(old, new);
    assert!(init.stdout.contains(&format!("replaced  session {old}")));

    let deadline = Duration::from_secs(5);
    let started = init.exited_at;
    for (who, p) in [("forge-stream", stream), ("forge-core", core)] {
        let out = rig.wait(p, deadline);
        out.expect_code(3);
        let took = out.exited_at.saturating_duration_since(started);
        eprintln!("{who} exited with 3 {took:?} after forge-init --force returned");
        assert!(
            took < Duration::from_millis(500),
            "{who} took {took:?} to notice the new session"
        );
        assert!(
            out.stderr.contains(&old) && out.stderr.contains(&new),
            "{who} must name both sessions:\n{}",
            out.stderr
        );
        assert!(out.stdout.contains("ended      session retired"));
    }

    // Neither old daemon touched the new segment.
    let snap = rig.snapshot();
    assert_eq!(format!("{:#018x}", snap.identity.session_id), new);
    for side in [&snap.producer, &snap.consumer] {
        assert_eq!(side.role_state, forge_fabric::RoleState::Vacant);
        assert_eq!((side.pid, side.index, side.messages), (0, 0, 0));
    }
    assert_eq!(snap.latency.count, 0);

    let core = rig.spawn(
        Bin::Core,
        &[
            "--verify", "--report", "json", "--wait", "yield", "--count", "100000",
        ],
    );
    let stream = rig.spawn(Bin::Stream, &["--wait", "yield", "--count", "100000"]);
    rig.wait(stream, Duration::from_secs(60)).expect_code(0);
    let report = rig.wait(core, Duration::from_secs(60)).json();
    assert_eq!(report["frames"], 100_000);
    assert_eq!(report["gaps"], 0);
    assert_eq!(report["session"], new);
}

#[test]
fn init_refuses_a_live_segment_without_force_and_replaces_it_once_its_daemons_are_dead() {
    let mut rig = Rig::new("refuse");
    let first = session_of(&rig.init(&[]).stdout);
    let stream = rig.spawn(Bin::Stream, &["--rate", "1000", "--wait", "park"]);
    let core = rig.spawn(Bin::Core, &["--wait", "park"]);
    let (sp, cp) = (rig.pid(stream), rig.pid(core));
    rig.wait_for("both roles taken", Duration::from_secs(30), |s| {
        s.producer.pid == sp && s.consumer.pid == cp && s.tail > 10
    });

    let refused = rig.run(Bin::Init, &[], Duration::from_secs(20));
    refused.expect_code(1);
    let err = &refused.stderr;
    assert!(err.contains("is in use"), "{err}");
    assert!(
        err.contains(&format!("pid {sp}")) || err.contains(&format!("pid {cp}")),
        "names the live pid: {err}"
    );
    assert!(err.contains("--force"), "says how to override: {err}");
    // Untouched: same session, both daemons still running.
    assert_eq!(
        format!("{:#018x}", rig.snapshot().identity.session_id),
        first
    );
    assert!(rig.running(stream) && rig.running(core));

    rig.kill9(stream);
    rig.kill9(core);
    let replaced = rig.init(&[]);
    let second = session_of(&replaced.stdout);
    assert_ne!(first, second);
    assert!(replaced
        .stdout
        .contains(&format!("replaced  session {first}")));
}

#[test]
fn a_second_producer_or_consumer_is_refused_with_a_clear_message() {
    let mut rig = Rig::new("second");
    rig.init(&[]);
    let stream = rig.spawn(Bin::Stream, &["--rate", "1000", "--wait", "park"]);
    let core = rig.spawn(Bin::Core, &["--wait", "park"]);
    let (sp, cp) = (rig.pid(stream), rig.pid(core));
    rig.wait_for("both roles taken", Duration::from_secs(30), |s| {
        s.producer.pid == sp && s.consumer.pid == cp
    });
    let t = Instant::now();
    let second = rig.run(Bin::Stream, &["--wait", "park"], Duration::from_secs(20));
    second.expect_code(1);
    assert!(
        second.stderr.contains(&format!(
            "producer role of this segment is held by a live process (forge-stream, pid {sp} as its header says)"
        )),
        "{}",
        second.stderr
    );
    assert!(second
        .stderr
        .contains("stop the forge-stream that holds it first; a segment has exactly one producer"));
    assert!(t.elapsed() < Duration::from_secs(10));
    let second = rig.run(Bin::Core, &["--wait", "park"], Duration::from_secs(20));
    second.expect_code(1);
    assert!(
        second.stderr.contains(&format!(
            "consumer role of this segment is held by a live process (forge-core, pid {cp} as its header says)"
        )),
        "{}",
        second.stderr
    );
    // The first pair never noticed.
    let snap = rig.snapshot();
    assert_eq!((snap.producer.pid, snap.consumer.pid), (sp, cp));
    assert!(rig.running(stream) && rig.running(core));
}

#[test]
fn sigterm_releases_the_roles_and_prints_a_final_report() {
    use nix::sys::signal::Signal;
    let mut rig = Rig::new("sigterm");
    rig.init(&[]);
    let stream = rig.spawn(Bin::Stream, &["--rate", "20000", "--wait", "park"]);
    let core = rig.spawn(
        Bin::Core,
        &["--wait", "park", "--verify", "--report", "json"],
    );
    rig.wait_for("frames to flow", Duration::from_secs(30), |s| {
        s.tail > 1_000
    });
    rig.signal(stream, Signal::SIGTERM);
    let sent = rig.wait(stream, Duration::from_secs(5));
    sent.expect_code(0);
    assert!(
        sent.stdout.contains("ended      stopped"),
        "{}",
        sent.stdout
    );
    let head = rig.drained_head(Duration::from_secs(10));
    rig.signal(core, Signal::SIGINT);
    let got = rig.wait(core, Duration::from_secs(5));
    got.expect_code(0);
    let report = got.json();
    assert_eq!(report["end"], "stopped");
    assert_eq!(report["frames"], head);
    let snap = rig.snapshot();
    for side in [&snap.producer, &snap.consumer] {
        assert_eq!(side.pid, 0, "pid cleared");
        assert_eq!(side.role_state, forge_fabric::RoleState::Stopped);
    }
}

#[test]
fn sigusr1_makes_the_producer_send_a_burst() {
    use nix::sys::signal::Signal;
    let mut rig = Rig::new("burst");
    rig.init(&[]);
    let core = rig.spawn(Bin::Core, &["--wait", "park", "--verify"]);
    // 100 frames/s: without the burst, 50,000 frames would take minutes.
    let stream = rig.spawn(
        Bin::Stream,
        &["--rate", "100", "--wait", "park", "--burst", "50000"],
    );
    let pid = rig.pid(stream);
    rig.wait_for("the producer to start", Duration::from_secs(30), |s| {
        s.producer.pid == pid
    });
    let t = Instant::now();
    rig.signal(stream, Signal::SIGUSR1);
    rig.wait_for("the burst to arrive", Duration::from_secs(30), |s| {
        s.tail >= 50_000
    });
    eprintln!("a 50,000-frame burst arrived in {:?}", t.elapsed());
    rig.signal(stream, Signal::SIGTERM);
    let out = rig.wait(stream, Duration::from_secs(5));
    out.expect_code(0);
    assert!(out.stdout.contains("bursts     1"), "{}", out.stdout);
    // SIGUSR1 to the consumer prints an interim report and carries on.
    rig.signal(core, Signal::SIGUSR1);
    std::thread::sleep(Duration::from_millis(200));
    assert!(rig.running(core));
    rig.signal(core, Signal::SIGTERM);
    let got = rig.wait(core, Duration::from_secs(5));
    got.expect_code(0);
    assert!(got.stderr.contains("still running"), "{}", got.stderr);
    assert!(got.stdout.contains("ended      stopped"), "{}", got.stdout);
}

#[test]
fn die_with_parent_stops_the_daemon_cleanly_when_its_parent_dies() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::Pid;
    let mut rig = Rig::new("orphan");
    rig.init(&[]);
    // The orphaned daemon is re-parented to us, so we can reap it and read
    // its exit status.
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    // A shell stands in for forge-top: it starts the daemon and waits.
    let script = format!(
        "{} --segment {} --rate 1000 --wait park --die-with-parent >/dev/null 2>&1 & echo $!; wait",
        Bin::Stream.path(),
        rig.segment
    );
    let parent = rig.spawn_shell(&script);
    let daemon: u32 = rig.read_line(parent).parse().expect("daemon pid");
    rig.adopt(daemon);
    rig.wait_for(
        "the daemon to take the role",
        Duration::from_secs(30),
        |s| s.producer.pid == daemon,
    );
    rig.kill9(parent);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match waitpid(Pid::from_raw(daemon as i32), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {
                assert!(
                    Instant::now() < deadline,
                    "daemon {daemon} outlived its parent"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            other => break other,
        }
    };
    // SIGTERM from the kernel took the clean-stop path: exit 0, role released.
    assert_eq!(
        status,
        Ok(WaitStatus::Exited(Pid::from_raw(daemon as i32), 0))
    );
    let snap = rig.snapshot();
    assert_eq!(snap.producer.pid, 0);
    assert_eq!(snap.producer.role_state, forge_fabric::RoleState::Stopped);
}

#[test]
fn a_ring_of_small_slots_carries_frames_that_fit_and_refuses_larger_ones_before_taking_the_role() {
    let mut rig = Rig::new("small_slots");
    let init = rig.init(&["--slots", "64", "--payload-capacity", "56"]);
    assert!(
        init.stdout.contains("64 slots x 64 B (payload 56 B)"),
        "{}",
        init.stdout
    );
    assert_eq!(
        std::fs::metadata(rig.shm_path()).unwrap().len(),
        4096 + 64 * 64
    );
    let snap = rig.snapshot();
    assert_eq!(
        (snap.identity.layout_version, snap.identity.slot_size),
        (4, 64)
    );

    let refused = rig.run(
        Bin::Stream,
        &["--size", "32-64", "--count", "10", "--wait", "park"],
        Duration::from_secs(20),
    );
    refused.expect_code(1);
    assert!(
        refused
            .stderr
            .contains("holds frames of up to 56 bytes, and this run writes frames of up to 64"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--payload-capacity 64 --force"),
        "{}",
        refused.stderr
    );
    // Refused before the claim: the role line was never written.
    let snap = rig.snapshot();
    assert_eq!((snap.producer.pid, snap.producer.program.as_str()), (0, ""));

    let n = "50000";
    let core = rig.spawn(
        Bin::Core,
        &[
            "--count", n, "--verify", "--wait", "park", "--report", "json",
        ],
    );
    let stream = rig.spawn(
        Bin::Stream,
        &["--size", "32-56", "--count", n, "--wait", "park"],
    );
    rig.wait(stream, Duration::from_secs(60)).expect_code(0);
    let report = rig.wait(core, Duration::from_secs(60));
    report.expect_code(0);
    let json = report.json();
    assert_eq!(json["frames"], 50_000, "{json}");
    assert_eq!(
        (&json["gaps"], &json["duplicates"], &json["corrupt"]),
        (&0.into(), &0.into(), &0.into()),
        "{json}"
    );
}
