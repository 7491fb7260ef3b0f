//! Faults of the segment itself, with the real daemons and forge-top:
//! replaced, truncated or unlinked under them, two initializers at once, a
//! partial object left by a dead forge-init, a /dev/shm too small, broken
//! headers, and objects of the wrong kind, owner or mode.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{assert_says, session_of, Bin, Output, Rig};

const T: Duration = Duration::from_secs(20);

/// The events forge-top logged in a `--snapshot … .json`.
fn top_events(path: &std::path::Path) -> (serde_json::Value, Vec<String>) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("forge-top wrote its snapshot"))
            .expect("snapshot JSON");
    let events = v["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    (v, events)
}

/// Where forge-top writes its `--snapshot` JSON: a file in a temporary
/// directory, removed with it (drop the directory last).
fn snapshot_path(what: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{what}.json"));
    (dir, path)
}

/// Starts forge-core and forge-stream (yield waits) and waits for frames.
fn stream_pair(rig: &mut Rig) -> (common::Proc, common::Proc) {
    let core = rig.spawn(
        Bin::Core,
        &["--verify", "--report", "json", "--wait", "yield"],
    );
    let stream = rig.spawn(Bin::Stream, &["--wait", "yield", "--size", "32-512"]);
    let (cp, sp) = (rig.pid(core), rig.pid(stream));
    rig.wait_for("frames to flow", Duration::from_secs(30), |s| {
        s.tail >= 50_000 && s.producer.pid == sp && s.consumer.pid == cp
    });
    (core, stream)
}

#[test]
fn force_reinit_under_a_producer_a_consumer_and_forge_top_retires_them_within_100_ms() {
    let mut rig = Rig::new("fault_force");
    let old = session_of(&rig.init(&[]).stdout);
    let (_scratch, json) = snapshot_path("force");
    let top = rig.spawn(
        Bin::Top,
        &["--snapshot", json.to_str().unwrap(), "--after", "2500ms"],
    );
    let (core, stream) = stream_pair(&mut rig);

    let init = rig.run(Bin::Init, &["--force"], T);
    init.expect_code(0);
    let new = session_of(&init.stdout);
    for (who, p) in [("forge-stream", stream), ("forge-core", core)] {
        let out = rig.wait(p, Duration::from_secs(5));
        let took = out.exited_at.saturating_duration_since(init.exited_at);
        eprintln!(
            "{who} exited with {:?} {took:?} after forge-init --force",
            out.code
        );
        out.expect_code(3);
        assert!(
            took < Duration::from_millis(100),
            "{who} took {took:?} to leave the retired session"
        );
        assert_says(&out, &[&old, &new]);
        assert!(!out.stderr.contains("SIGBUS"), "{}", out.stderr);
    }
    // Nothing of the old daemons reached the new segment: untouched roles,
    // indices, histogram and slot words.
    let obs = rig.observer();
    let snap = obs.snapshot().unwrap();
    assert_eq!(format!("{:#018x}", snap.identity.session_id), new);
    for side in [&snap.producer, &snap.consumer] {
        assert_eq!(side.role_state, forge_fabric::RoleState::Vacant);
        assert_eq!((side.pid, side.index, side.messages), (0, 0, 0));
    }
    assert_eq!(snap.latency.count, 0);
    for i in 0..snap.slot_count {
        assert_eq!(obs.read_slot(i).unwrap().stamp, 0, "slot {i} was written");
    }
    // forge-top raised the alarm and re-attached to the new session.
    rig.wait(top, T).expect_code(0);
    let (v, events) = top_events(&json);
    assert_eq!(
        v["sample"]["header"]["identity"]["session_id"]
            .as_str()
            .unwrap(),
        new
    );
    assert!(
        // "retired and replaced by" when forge-top saw it in one sample,
        // "replaced by" when it saw the retired header first.
        events
            .iter()
            .any(|e| e.starts_with("segment re-initialized: session ")
                && e.contains(&format!("session {old} "))
                && e.contains(&format!("replaced by session {new}; re-attached"))),
        "{events:#?}"
    );
    // Each fact once: at most the retirement (when a sample caught the
    // retired header) and the re-initialization name the old session.
    let about_old = events.iter().filter(|e| e.contains(&old)).count();
    assert!(about_old <= 2, "{events:#?}");
}

#[test]
fn a_segment_truncated_under_the_daemons_ends_them_with_a_message_and_forge_top_keeps_running() {
    let mut rig = Rig::new("fault_truncate");
    rig.init(&[]);
    let (_scratch, json) = snapshot_path("truncate");
    let top = rig.spawn(
        Bin::Top,
        &["--snapshot", json.to_str().unwrap(), "--after", "2000ms"],
    );
    let (core, stream) = stream_pair(&mut rig);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(rig.shm_path())
        .unwrap();
    f.set_len(4096).unwrap();
    let cut = Instant::now();
    for (who, p) in [("forge-stream", stream), ("forge-core", core)] {
        let out = rig.wait(p, Duration::from_secs(5));
        eprintln!(
            "{who}: exit {:?} {:?} after the truncation: {}",
            out.code,
            out.exited_at.saturating_duration_since(cut),
            out.stderr.lines().last().unwrap_or_default()
        );
        // A clean exit 1 with the reason, not a death by SIGBUS: from the
        // SIGBUS reporter when the daemon touched a lost page, or from the
        // watch thread when it did not (a producer waiting for space on a
        // full ring after its consumer left, say).
        out.expect_code(1);
        assert_says(&out, &[&rig.segment, "was truncated under us"]);
    }
    rig.wait(top, T).expect_code(0);
    let (_, events) = top_events(&json);
    assert!(
        events.iter().any(|e| e.contains("truncated under us")),
        "{events:#?}"
    );
}

#[test]
fn a_segment_unlinked_under_the_daemons_is_drained_then_both_stop_and_forge_top_keeps_running() {
    let mut rig = Rig::new("fault_unlink");
    rig.init(&[]);
    let (_scratch, json) = snapshot_path("unlink");
    let top = rig.spawn(
        Bin::Top,
        &["--snapshot", json.to_str().unwrap(), "--after", "2000ms"],
    );
    let (core, stream) = stream_pair(&mut rig);
    std::fs::remove_file(rig.shm_path()).unwrap();
    let gone = Instant::now();
    let sent = rig.wait(stream, Duration::from_secs(5));
    let got = rig.wait(core, Duration::from_secs(5));
    for (who, out) in [("forge-stream", &sent), ("forge-core", &got)] {
        eprintln!(
            "{who}: exit {:?} {:?} after the unlink",
            out.code,
            out.exited_at.saturating_duration_since(gone)
        );
        out.expect_code(1);
        assert_says(out, &[&rig.segment, "unlinked under us"]);
    }
    // Every frame the producer committed was read before the consumer left.
    let next = sent
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("sequences"))
        .and_then(|l| l.split("(next ").nth(1))
        .map(|n| {
            n.trim_end_matches(')')
                .replace(',', "")
                .parse::<u64>()
                .unwrap()
        })
        .expect("the producer's report");
    let report = got.json();
    assert_eq!(report["next_sequence"], next, "{report}");
    assert_eq!(report["end"], "segment_unlinked");
    assert_eq!(report["gaps"], 0);
    rig.wait(top, T).expect_code(0);
    let (_, events) = top_events(&json);
    assert!(
        events
            .iter()
            .any(|e| e.contains(&format!("the name {} was removed", rig.segment))),
        "{events:#?}"
    );
}

#[test]
fn many_forge_inits_at_once_leave_one_valid_segment_and_every_loser_fails_cleanly() {
    let mut rig = Rig::new("fault_init_race");
    for round in 0..10 {
        let _ = std::fs::remove_file(rig.shm_path());
        let procs: Vec<_> = (0..6).map(|_| rig.spawn(Bin::Init, &[])).collect();
        let outs: Vec<Output> = procs.into_iter().map(|p| rig.wait(p, T)).collect();
        let mut created = Vec::new();
        let mut replaced = Vec::new();
        for out in &outs {
            match out.code {
                Some(0) => {
                    created.push(session_of(&out.stdout));
                    if let Some(old) = out
                        .stdout
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("replaced  session "))
                    {
                        replaced.push(old.split_whitespace().next().unwrap().to_owned());
                    }
                }
                _ => {
                    out.expect_code(1);
                    assert_says(out, &["created by another forge-init at the same time"]);
                }
            }
        }
        assert!(!created.is_empty(), "round {round}: nobody won");
        let live = format!("{:#018x}", rig.snapshot().identity.session_id);
        assert!(created.contains(&live), "round {round}");
        // A winner that did not end up at the name was replaced by a later
        // one, properly (retired first, then unlinked), never silently.
        for s in created.iter().filter(|s| **s != live) {
            assert!(
                replaced.contains(s),
                "round {round}: session {s} was unlinked without being retired"
            );
        }
    }
    let ours: Vec<_> = std::fs::read_dir("/dev/shm")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(rig.segment.trim_start_matches('/'))
        })
        .collect();
    let names: Vec<String> = ours
        .iter()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let name = rig.segment.trim_start_matches('/');
    assert_eq!(
        names.len(),
        2,
        "nothing but the segment and its role-lock object is left behind: {names:?}"
    );
    assert!(names.contains(&format!("{name}.roles")), "{names:?}");
}

#[test]
fn a_partial_object_left_by_a_dead_forge_init_is_named_and_only_force_replaces_it() {
    let mut rig = Rig::new("fault_partial");
    // What a forge-init killed between creating and sizing the object leaves.
    std::fs::File::create(rig.shm_path()).unwrap();
    let out = rig.run(Bin::Init, &[], T);
    out.expect_code(1);
    assert_says(&out, &["partial segment", "died", "--force"]);
    let out = rig.run(Bin::Stream, &["--wait", "park"], T);
    out.expect_code(1);
    assert_says(&out, &["still initializing", "stuck or dead"]);
    let out = rig.init(&["--force"]);
    assert!(out.stdout.contains("partial segment"), "{}", out.stdout);
    rig.snapshot();
}

#[test]
fn a_file_size_limit_makes_forge_init_fail_cleanly_and_remove_the_partial_object() {
    let mut rig = Rig::new("fault_fsize");
    // `ulimit -f` counts 512-byte blocks in sh: about 1 MB, less than the
    // 4.2 MB of 1024 slots.
    let script = format!(
        "ulimit -f 2000 && exec {} --segment {} --slots 1024",
        Bin::Init.path(),
        rig.segment
    );
    let p = rig.spawn_shell(&script);
    let out = rig.wait(p, T);
    out.expect_code(1);
    assert_says(&out, &["cannot create", "File too large"]);
    assert!(
        !std::path::Path::new(&rig.shm_path()).exists(),
        "the partial object was removed"
    );
    // Within the limit it works.
    let script = format!(
        "ulimit -f 2000 && exec {} --segment {} --slots 128",
        Bin::Init.path(),
        rig.segment
    );
    let p = rig.spawn_shell(&script);
    rig.wait(p, T).expect_code(0);
}

#[test]
fn a_dev_shm_too_small_makes_forge_init_fail_cleanly_and_remove_the_partial_object() {
    let mut rig = Rig::new("fault_enospc");
    // A private 1 MiB tmpfs over /dev/shm, in a mount namespace of its own
    // (needs root, or at least CAP_SYS_ADMIN; skipped otherwise).
    let script = format!(
        "mount -t tmpfs -o size=1m tmpfs /dev/shm || exit 77; \
         {init} --segment {seg} --slots 1024; echo \"rc=$?\"; ls -A /dev/shm; \
         {init} --segment {seg} --slots 64 >/dev/null && echo small-ok",
        init = Bin::Init.path(),
        seg = rig.segment
    );
    let p = rig.spawn_raw_cmd("unshare", &["-m", "sh", "-c", &script]);
    let out = rig.wait(p, T);
    if out.code != Some(0) {
        eprintln!(
            "a private tmpfs is not available here ({:?}): skipped\n{}",
            out.code, out.stderr
        );
        return;
    }
    eprintln!("{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("rc=1"), "{}", out.stdout);
    assert!(
        out.stderr.contains("No space left on device"),
        "{}",
        out.stderr
    );
    let leftover = out
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("rc="))
        .nth(1)
        .unwrap_or_default();
    assert!(
        leftover.is_empty() || leftover == "small-ok",
        "left behind: {leftover}"
    );
    assert!(out.stdout.contains("small-ok"));
}

/// A valid 2-slot segment's bytes, to break.
fn valid_bytes(rig: &mut Rig) -> Vec<u8> {
    rig.init(&["--slots", "2"]);
    let bytes = std::fs::read(rig.shm_path()).unwrap();
    std::fs::remove_file(rig.shm_path()).unwrap();
    bytes
}

#[test]
fn broken_headers_get_a_typed_error_and_a_clear_message_from_every_tool_never_a_panic() {
    let mut rig = Rig::new("fault_headers");
    let good = valid_bytes(&mut rig);
    let with = |offset: usize, value: &[u8]| {
        let mut b = good.clone();
        b[offset..offset + value.len()].copy_from_slice(value);
        b
    };
    let mut random = vec![0u8; good.len()];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in &mut random {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("shorter than a header", good[..100].to_vec(), "too short"),
        (
            "shorter than its header declares",
            good[..good.len() - 4104].to_vec(),
            "too short",
        ),
        (
            "wrong magic",
            with(0, b"NOTFORGE"),
            "is not a Forge segment",
        ),
        (
            "another layout version",
            with(8, &1u32.to_le_bytes()),
            "layout version 1",
        ),
        (
            "a slot count that is no power of two",
            with(20, &1000u32.to_le_bytes()),
            "slot_count is 1000",
        ),
        (
            "a lying segment size",
            with(24, &1u64.to_le_bytes()),
            "segment_size",
        ),
        (
            "an unknown state",
            with(40, &7u32.to_le_bytes()),
            "state is 7",
        ),
        ("random bytes", random, "is not a Forge segment"),
    ];
    for (what, bytes, says) in &cases {
        std::fs::write(rig.shm_path(), bytes).unwrap();
        for bin in [Bin::Stream, Bin::Core] {
            let out = rig.run(bin, &["--wait", "park"], T);
            eprintln!(
                "{what}: {:?}: {}",
                bin,
                out.stderr.lines().nth(1).unwrap_or_default().trim()
            );
            out.expect_code(1);
            assert_says(&out, &[&rig.segment, says]);
        }
        let top = rig.run(Bin::Top, &["--once", "--no-wait"], T);
        top.expect_code(1);
        assert_says(&top, &[says, "forge-init --force"]);
        // Nothing was written into it.
        assert_eq!(&std::fs::read(rig.shm_path()).unwrap(), bytes, "{what}");
    }
    // A header stuck initializing (forge-init died after sizing it): the
    // daemons wait a bounded time, then say so.
    let mut stuck = good.clone();
    stuck[..128].fill(0);
    std::fs::write(rig.shm_path(), &stuck).unwrap();
    let out = rig.run(Bin::Core, &["--wait", "park"], T);
    out.expect_code(1);
    assert_says(&out, &["still initializing after", "stuck or dead"]);
}

#[test]
fn objects_of_the_wrong_kind_owner_or_mode_are_refused_or_warned_and_new_ones_are_0600() {
    use std::os::unix::fs::MetadataExt;
    let mut rig = Rig::new("fault_owner");
    rig.init(&[]);
    let meta = std::fs::metadata(rig.shm_path()).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600, "created 0600 by default");
    rig.init(&["--mode", "640"]);
    assert_eq!(
        std::fs::metadata(rig.shm_path()).unwrap().mode() & 0o777,
        0o640
    );

    // Writable by others: the daemons say so, then work.
    std::fs::set_permissions(rig.shm_path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = rig.run(Bin::Stream, &["--count", "10", "--wait", "park"], T);
    out.expect_code(0);
    assert_says(&out, &["warning", "mode 0666", "may write it"]);
    let top = rig.run(Bin::Top, &["--once", "--no-wait", "--format", "json"], T);
    top.expect_code(0);
    assert!(
        top.stdout.contains("mode 0666"),
        "forge-top warns too:\n{}",
        top.stdout
    );
    if nix::unistd::geteuid().is_root() {
        std::fs::set_permissions(rig.shm_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        // Another user's segment: its role-lock object is that user's too.
        std::os::unix::fs::chown(rig.shm_path(), Some(65534), None).unwrap();
        let roles = format!("{}.roles", rig.shm_path());
        std::os::unix::fs::chown(&roles, Some(65534), None).unwrap();
        let out = rig.run(Bin::Stream, &["--count", "10", "--wait", "park"], T);
        out.expect_code(0);
        assert_says(&out, &["warning", "owned by uid 65534"]);
    }

    // A symbolic link at the name is never followed.
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let target = format!("{}_target", rig.shm_path());
    let _cleanup = Remove(target.clone());
    std::fs::rename(rig.shm_path(), &target).unwrap();
    std::os::unix::fs::symlink(&target, rig.shm_path()).unwrap();
    let before = std::fs::read(&target).unwrap();
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--wait", "park"], T);
        out.expect_code(1);
        assert_says(
            &out,
            &[
                "symbolic link",
                "not a shared-memory segment",
                "forge-init --force",
            ],
        );
    }
    let out = rig.run(Bin::Top, &["--once", "--no-wait"], T);
    out.expect_code(1);
    assert_says(&out, &["symbolic link"]);
    let out = rig.run(Bin::Init, &[], T);
    out.expect_code(1);
    assert_says(&out, &["symbolic link", "--force"]);
    assert_eq!(
        std::fs::read(&target).unwrap(),
        before,
        "the target is untouched"
    );
}
