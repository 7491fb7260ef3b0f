//! A segment damaged by something other than the protocol — a slot word
//! cleared, indices that cannot be true, an identity line overwritten — ends
//! the daemons with exit 4 and a message naming the damage, instead of a
//! silent stall, lost frames or a false "retired". And hostile command-line
//! input: names with control characters, modes that open the ring to
//! others, a tmpfs with no room for a page.

mod common;

use std::time::Duration;

use common::{assert_says, at, noise, Bin, Rig};
use nix::sys::signal::Signal;

const T: Duration = Duration::from_secs(20);

#[test]
fn a_cleared_slot_word_ahead_of_the_consumer_ends_it_with_exit_4_not_a_silent_stall() {
    let mut rig = Rig::new("damage_stamp");
    rig.init(&["--slots", "64"]);
    let core = rig.spawn(
        Bin::Core,
        &["--verify", "--wait", "park", "--report", "json"],
    );
    let cp = rig.pid(core);
    rig.wait_for("the consumer role", T, |s| s.consumer.pid == cp);
    rig.signal(core, Signal::SIGSTOP);
    rig.run(
        Bin::Stream,
        &["--count", "10", "--batch", "1", "--wait", "park"],
        T,
    )
    .expect_code(0);
    // The slot at tail + 3 loses its word while the consumer is at tail.
    rig.poke(at::slot_word(3), &0u64.to_le_bytes());
    let top = rig.run(Bin::Top, &["--once", "--no-wait", "--format", "json"], T);
    assert!(
        top.stdout
            .contains("a frame ahead of the consumer is damaged")
            && top.stdout.contains("slot 3 (ring position 3)"),
        "forge-top names the damaged slot before the consumer gets there:\n{}",
        top.stdout
    );
    rig.signal(core, Signal::SIGCONT);
    let out = rig.wait(core, T);
    out.expect_code(4);
    assert_says(
        &out,
        &[
            "slot 3 (ring position 3)",
            "expected 0x1",
            "stamp 0x0",
            "head 10",
        ],
    );
    let report = out.json();
    assert_eq!(report["frames"], 3);
    assert_eq!(report["corrupt"], 1);
    assert_eq!(report["end"], "integrity_failure");
    let top = rig.run(Bin::Top, &["--once", "--no-wait", "--format", "json"], T);
    assert!(
        top.stdout.contains("the ring is stuck: slot 3"),
        "and says the ring is stuck once the consumer stopped there:\n{}",
        top.stdout
    );
}

/// head 40 and tail 20 on a 64-slot ring, as the daemons left them.
fn head_40_tail_20(rig: &mut Rig) {
    rig.init(&["--slots", "64"]);
    rig.run(
        Bin::Stream,
        &["--count", "40", "--batch", "1", "--wait", "park"],
        T,
    )
    .expect_code(0);
    rig.run(
        Bin::Core,
        &["--count", "20", "--verify", "--wait", "park"],
        T,
    )
    .expect_code(0);
    let snap = rig.snapshot();
    assert_eq!((snap.head, snap.tail), (40, 20));
}

#[test]
fn a_tail_ahead_of_every_published_frame_is_refused_by_both_daemons() {
    let mut rig = Rig::new("damage_tail_ahead");
    head_40_tail_20(&mut rig);
    rig.poke(at::TAIL, &1020u64.to_le_bytes());
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--count", "10", "--wait", "park"], T);
        out.expect_code(4);
        assert_says(
            &out,
            &[
                "impossible indices",
                "head 40, tail 1020",
                "forge-init --force",
            ],
        );
    }
    // Nothing was written: frames 20..40 are still there to be read.
    let snap = rig.snapshot();
    assert_eq!((snap.head, snap.tail), (40, 1020));
}

#[test]
fn a_tail_set_back_by_more_than_the_ring_is_refused_by_both_daemons() {
    let mut rig = Rig::new("damage_tail_back");
    rig.init(&["--slots", "64"]);
    let core = rig.spawn(Bin::Core, &["--verify", "--wait", "park"]);
    rig.run(
        Bin::Stream,
        &["--count", "1000", "--batch", "1", "--wait", "park"],
        T,
    )
    .expect_code(0);
    assert_eq!(rig.drained_head(T), 1000);
    rig.signal(core, Signal::SIGTERM);
    rig.wait(core, T).expect_code(0);
    rig.poke(at::TAIL, &900u64.to_le_bytes());
    for bin in [Bin::Stream, Bin::Core] {
        let out = rig.run(bin, &["--count", "10", "--wait", "park"], T);
        out.expect_code(4);
        assert_says(&out, &["more than the ring holds", "forge-init --force"]);
    }
}

#[test]
fn random_bytes_over_the_identity_line_are_damage_exit_4_not_a_retirement() {
    let mut rig = Rig::new("damage_identity");
    rig.init(&["--slots", "64"]);
    let core = rig.spawn(Bin::Core, &["--verify", "--wait", "park"]);
    let stream = rig.spawn(Bin::Stream, &["--rate", "2000", "--wait", "park"]);
    let (sp, cp) = (rig.pid(stream), rig.pid(core));
    rig.wait_for("both roles", T, |s| {
        s.producer.pid == sp && s.consumer.pid == cp
    });
    let mut seed = 0x5eed_f00d_u64;
    let garbage: Vec<u8> = (0..16)
        .flat_map(|_| noise(&mut seed).to_le_bytes())
        .collect();
    rig.poke(0, &garbage);
    for p in [stream, core] {
        let out = rig.wait(p, T);
        out.expect_code(4);
        assert_says(&out, &["identity changed under us", "damaged"]);
        assert!(!out.stderr.contains("retired"), "{}", out.stderr);
    }
}

#[test]
fn segment_names_with_control_characters_are_refused_and_never_printed_raw() {
    let mut rig = Rig::new("damage_name");
    let name = "/forge_test_\u{1b}[31mred\u{7}";
    for bin in [Bin::Init, Bin::Stream, Bin::Core, Bin::Top] {
        let args: &[&str] = match bin {
            Bin::Top => &["--segment", name, "--once", "--no-wait"],
            _ => &["--segment", name],
        };
        let out = rig.run_raw(bin, args, T);
        assert_ne!(out.code, Some(0), "{bin:?} accepted {name:?}");
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        for stream in [&out.stderr, &out.stdout] {
            assert!(
                !stream.contains('\u{7}') && !stream.contains("\u{1b}[31m"),
                "{bin:?} printed the name raw: {stream:?}"
            );
        }
        assert!(
            out.stderr.contains("control character"),
            "{bin:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn modes_that_open_the_ring_to_others_are_said_out_loud() {
    let mut rig = Rig::new("damage_mode");
    let out = rig.run(Bin::Init, &["--mode", "0666"], T);
    out.expect_code(0);
    assert_says(
        &out,
        &["warning: mode 0666: every user on this host can write the ring"],
    );
    let out = rig.run(Bin::Init, &["--mode", "0", "--force"], T);
    out.expect_code(0);
    assert_says(
        &out,
        &["mode 0000 does not let its owner read and write it"],
    );
    let out = rig.run(Bin::Init, &["--force"], T);
    out.expect_code(0);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

/// A page the system cannot provide (a tmpfs with no room left) is not a
/// truncation: the daemon says what happened. Needs a private mount
/// namespace with a small tmpfs over /dev/shm (root).
#[test]
fn a_full_tmpfs_is_reported_as_such_not_as_a_truncation() {
    let probe = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs -o size=1m tmpfs /tmp && umount /tmp")
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot make a private tmpfs here (needs root)");
        return;
    }
    let mut rig = Rig::new("damage_enospc");
    let (init, stream) = (Bin::Init.path(), Bin::Stream.path());
    // Inside its own mount namespace: a 3 MiB /dev/shm, a 2 MiB segment,
    // the rest filled, then a hole punched in the slots: the producer's
    // next touch of that page needs memory the tmpfs does not have.
    let script = format!(
        "set -e
         mount -t tmpfs -o size=3m tmpfs /dev/shm
         {init} --segment /full >/dev/null
         dd if=/dev/zero of=/dev/shm/filler bs=64k 2>/dev/null || true
         fallocate --punch-hole --offset 8192 --length 1048576 /dev/shm/full
         dd if=/dev/zero of=/dev/shm/filler2 bs=4k 2>/dev/null || true
         exec {stream} --segment /full --count 200 --batch 1 --wait park"
    );
    let p = rig.spawn_raw_cmd(
        "unshare",
        &["--mount", "--propagation", "private", "sh", "-c", &script],
    );
    let out = rig.wait(p, T);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert_says(&out, &["could not give that page memory", "/dev/shm full"]);
    assert!(!out.stderr.contains("truncated"), "{}", out.stderr);
}
