//! Segment lifecycle and header validation against real shm objects,
//! including deliberately broken headers written straight to /dev/shm.
#![cfg(not(loom))]

use std::time::Duration;

use forge_fabric::layout::*;
use forge_fabric::{
    Claim, CreateOptions, LiveHolders, Observer, Replaced, RoleError, Segment, SegmentError,
    SessionError,
};

mod common;

/// A segment name of this suite, unlinked on drop.
fn seg_name(what: &str) -> common::Name {
    common::Name::new("fabric", what)
}

fn small() -> CreateOptions {
    CreateOptions {
        slot_count: 4,
        ..Default::default()
    }
}

/// Bytes of a valid 4-slot segment, to break in one place.
fn valid_bytes() -> Vec<u8> {
    let name = seg_name("template");
    let _seg = Segment::create(&name.0, &small()).unwrap();
    std::fs::read(name.path()).unwrap()
}

fn write_at(bytes: &mut [u8], offset: usize, value: &[u8]) {
    bytes[offset..offset + value.len()].copy_from_slice(value);
}

fn open_broken(bytes: &[u8]) -> SegmentError {
    let name = seg_name("broken");
    std::fs::write(name.path(), bytes).unwrap();
    let rw = Segment::open(&name.0, Duration::from_millis(20)).unwrap_err();
    let ro = Observer::open(&name.0, Duration::from_millis(20)).unwrap_err();
    assert_eq!(
        std::mem::discriminant(&rw),
        std::mem::discriminant(&ro),
        "both paths validate alike: {rw} / {ro}"
    );
    rw
}

#[test]
fn create_makes_a_zeroed_live_segment_owned_by_us_with_mode_0600() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let name = seg_name("create");
    let seg = Segment::create(&name.0, &CreateOptions::default()).unwrap();
    let meta = std::fs::metadata(name.path()).unwrap();
    assert_eq!(meta.len(), 2_105_344);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    assert_ne!(seg.session_id(), 0);
    let bytes = std::fs::read(name.path()).unwrap();
    assert!(
        bytes[HEADER_SIZE..].iter().all(|&b| b == 0),
        "slots are zeroed"
    );
    let obs = Observer::open(&name.0, Duration::ZERO).unwrap();
    let snap = obs.snapshot().unwrap();
    assert_eq!(snap.identity.magic, MAGIC);
    assert_eq!(snap.slot_count, 512);
    assert_eq!(snap.identity.session_id, seg.session_id());
    assert_eq!(snap.identity.state, forge_fabric::SegmentState::Live);
}

#[test]
fn the_mode_asked_for_is_the_mode_set() {
    use std::os::unix::fs::PermissionsExt;
    let name = seg_name("mode");
    let opts = CreateOptions {
        mode: 0o640,
        ..small()
    };
    Segment::create(&name.0, &opts).unwrap();
    let mode = std::fs::metadata(name.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn bad_names_and_slot_counts_are_refused() {
    for bad in ["forge", "/", "/a/b", &format!("/{}", "x".repeat(300))] {
        assert!(matches!(
            Segment::create(bad, &small()),
            Err(SegmentError::BadName { .. })
        ));
    }
    let name = seg_name("slots");
    for slots in [0, 1, 3, 1000, MAX_SLOT_COUNT * 2] {
        let opts = CreateOptions {
            slot_count: slots,
            ..small()
        };
        assert!(matches!(
            Segment::create(&name.0, &opts),
            Err(SegmentError::BadSlotCount { .. })
        ));
    }
}

#[test]
fn a_live_producer_blocks_re_init_unless_forced_and_then_sees_retired() {
    let name = seg_name("reinit");
    let old = Segment::create(&name.0, &small()).unwrap();
    let producer = old.producer().unwrap();
    let err = Segment::replace(&name.0, &small(), LiveHolders::Refuse).unwrap_err();
    assert!(
        matches!(err, SegmentError::Active { role: forge_fabric::Role::Producer, pid, .. } if pid == std::process::id()),
        "{err}"
    );
    // An observer of the old object keeps seeing it after the name moves.
    let watcher = Observer::open(&name.0, Duration::ZERO).unwrap();
    let (new, replaced) = Segment::replace(&name.0, &small(), LiveHolders::Retire).unwrap();
    assert_eq!(replaced, Replaced::Session(old.session_id()));
    assert_ne!(new.session_id(), old.session_id());
    assert_eq!(
        producer.check_session(),
        Err(SessionError::Retired {
            ours: old.session_id(),
            successor: new.session_id()
        })
    );
    // The old object is unlinked, the new one is live and untouched.
    drop(producer);
    // Leaving the retired segment is a clean stop there, not a death.
    let left = watcher.snapshot().unwrap();
    assert_eq!(left.producer.role_state, forge_fabric::RoleState::Stopped);
    assert_eq!(left.producer.pid, 0);
    let snap = Observer::open(&name.0, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap();
    assert_eq!(snap.identity.session_id, new.session_id());
    assert_eq!(
        snap.producer.pid, 0,
        "the old producer never wrote into the new segment"
    );
}

#[test]
fn a_stopped_role_does_not_block_re_init() {
    let name = seg_name("stopped");
    let seg = Segment::create(&name.0, &small()).unwrap();
    drop(seg.consumer().unwrap());
    let (_, replaced) = Segment::replace(&name.0, &small(), LiveHolders::Refuse).unwrap();
    assert_eq!(replaced, Replaced::Session(seg.session_id()));
}

#[test]
fn one_producer_and_one_consumer_at_a_time() {
    let name = seg_name("roles");
    let seg = Segment::create(&name.0, &small()).unwrap();
    let p = seg.producer().unwrap();
    let c = seg.consumer().unwrap();
    assert!(matches!(
        seg.producer(),
        Err(RoleError::Held {
            role: forge_fabric::Role::Producer,
            ..
        })
    ));
    assert!(matches!(
        seg.consumer(),
        Err(RoleError::Held {
            role: forge_fabric::Role::Consumer,
            ..
        })
    ));
    drop(p);
    drop(c);
    let _p = seg.producer().unwrap();
    let _c = seg.consumer().unwrap();
}

#[test]
fn a_dead_holder_s_role_can_be_taken_over() {
    let name = seg_name("dead");
    let seg = Segment::create(&name.0, &small()).unwrap();
    // A pid that cannot exist stands for a holder that was SIGKILLed.
    seg.raw_header()
        .producer
        .pid
        .store(i32::MAX as u32, std::sync::atomic::Ordering::Relaxed);
    seg.raw_header().producer.role_state.store(
        forge_fabric::RoleState::Active.code(),
        std::sync::atomic::Ordering::Relaxed,
    );
    let p = seg.producer().unwrap();
    assert_eq!(
        seg.raw_header()
            .producer
            .pid
            .load(std::sync::atomic::Ordering::Relaxed),
        std::process::id()
    );
    drop(p);
}

#[test]
fn a_missing_segment_is_a_typed_error() {
    let name = seg_name("missing");
    assert!(matches!(
        Segment::open(&name.0, Duration::ZERO),
        Err(SegmentError::Missing { .. })
    ));
    assert!(matches!(
        Observer::open(&name.0, Duration::ZERO),
        Err(SegmentError::Missing { .. })
    ));
}

#[test]
fn wrong_magic_is_not_a_forge_segment() {
    let mut b = valid_bytes();
    write_at(&mut b, 0, b"NOTFORGE");
    assert!(matches!(open_broken(&b), SegmentError::NotForge { .. }));
}

#[test]
fn another_layout_version_names_both_versions() {
    let mut b = valid_bytes();
    write_at(&mut b, 8, &7u32.to_le_bytes());
    let e = open_broken(&b);
    assert!(matches!(
        e,
        SegmentError::Version {
            found: 7,
            expected: LAYOUT_VERSION,
            ..
        }
    ));
    assert!(
        e.to_string().contains("version 7")
            && e.to_string()
                .contains(&format!("version 2, 3, or {LAYOUT_VERSION}"))
    );
}

#[test]
fn a_layout_2_segment_is_read_and_used_as_it_always_was() {
    // What a build of layout 2 left in /dev/shm: the same bytes, version 2.
    let mut b = valid_bytes();
    write_at(&mut b, 8, &2u32.to_le_bytes());
    let name = seg_name("v2");
    std::fs::write(name.path(), &b).unwrap();
    let seg = Segment::open(&name.0, Duration::ZERO).unwrap();
    assert_eq!(
        (seg.layout_version(), seg.payload_capacity()),
        (2, PAYLOAD_CAPACITY)
    );
    let mut p = seg.producer().unwrap();
    let mut c = seg.consumer().unwrap();
    let frame = vec![0xA5u8; PAYLOAD_CAPACITY];
    for _ in 0..10 {
        p.write_from(&frame).unwrap();
        let mut out = vec![0u8; PAYLOAD_CAPACITY];
        assert_eq!(c.read_into(&mut out).unwrap(), Some(PAYLOAD_CAPACITY));
        assert_eq!(out, frame);
    }
    p.heartbeat();
    c.heartbeat();
    let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
    let snap = observer.snapshot().unwrap();
    assert_eq!(snap.identity.layout_version, 2);
    assert!(snap.problems().is_empty(), "{:?}", snap.problems());
    assert_eq!(observer.read_slot(9).unwrap().bytes, frame);
    // The session check accepts the version it attached to.
    assert!(seg.check_session().is_ok());
}

#[test]
fn a_file_shorter_than_a_header_is_too_short() {
    let b = valid_bytes();
    assert!(matches!(
        open_broken(&b[..100]),
        SegmentError::TooShort { found: 100, .. }
    ));
}

#[test]
fn a_declared_size_larger_than_the_file_is_refused() {
    let b = valid_bytes();
    let cut = b.len() - 1;
    assert!(matches!(
        open_broken(&b[..cut]),
        SegmentError::TooShort { expected, .. } if expected == b.len() as u64
    ));
}

#[test]
fn a_lying_slot_count_is_malformed() {
    let mut b = valid_bytes();
    write_at(&mut b, 20, &(1u32 << 19).to_le_bytes());
    assert!(matches!(open_broken(&b), SegmentError::Malformed { .. }));
    let mut b = valid_bytes();
    write_at(&mut b, 20, &3u32.to_le_bytes());
    assert!(matches!(open_broken(&b), SegmentError::Malformed { .. }));
}

#[test]
fn a_segment_stuck_initializing_times_out_with_a_clear_error() {
    let mut b = valid_bytes();
    write_at(
        &mut b,
        40,
        &forge_fabric::SegmentState::Initializing
            .code()
            .to_le_bytes(),
    );
    let e = open_broken(&b);
    assert!(matches!(e, SegmentError::Initializing { .. }), "{e}");
    assert!(e.to_string().contains("still initializing"));
    let zeros = vec![0u8; 8192];
    assert!(matches!(
        open_broken(&zeros),
        SegmentError::Initializing { .. }
    ));
}

#[test]
fn a_retired_segment_names_its_successor() {
    let mut b = valid_bytes();
    write_at(
        &mut b,
        40,
        &forge_fabric::SegmentState::Retired.code().to_le_bytes(),
    );
    write_at(&mut b, 48, &0xABCDu64.to_le_bytes());
    let e = open_broken(&b);
    assert!(
        matches!(
            e,
            SegmentError::Retired {
                successor: 0xABCD,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn random_bytes_are_refused_without_panicking() {
    let mut state = 0x1234_5678_9abc_def0u64;
    for len in [0usize, 7, 4095, 4096, 8192, 20_000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let name = seg_name("random");
        std::fs::write(name.path(), &bytes).unwrap();
        assert!(Segment::open(&name.0, Duration::from_millis(5)).is_err());
        assert!(Observer::open(&name.0, Duration::from_millis(5)).is_err());
    }
}

#[test]
fn a_foreign_object_is_replaced_only_with_force() {
    let name = seg_name("foreign");
    std::fs::write(name.path(), b"not a ring at all, but long enough? no").unwrap();
    assert!(Segment::replace(&name.0, &small(), LiveHolders::Refuse).is_err());
    let (_, replaced) = Segment::replace(&name.0, &small(), LiveHolders::Retire).unwrap();
    assert!(matches!(replaced, Replaced::Foreign(_)));
}

#[test]
fn the_observer_marks_a_slot_torn_when_the_producer_may_be_rewriting_it() {
    use forge_fabric::SlotState;
    let name = seg_name("torn");
    let seg = Segment::create(&name.0, &small()).unwrap();
    let mut p = seg.producer().unwrap();
    let mut c = seg.consumer().unwrap();
    p.write_from(b"first").unwrap();
    p.write_from(b"second").unwrap();
    c.read_with(|_| ()).unwrap().unwrap();
    let obs = Observer::open(&name.0, Duration::ZERO).unwrap();
    let pending = obs.read_slot(1).unwrap();
    assert_eq!(
        (pending.state, pending.position, pending.torn),
        (SlotState::Pending, Some(1), false)
    );
    assert_eq!(pending.bytes, b"second");
    let consumed = obs.read_slot(0).unwrap();
    assert_eq!(
        (consumed.state, consumed.torn),
        (SlotState::Consumed, false)
    );
    assert_eq!(consumed.bytes, b"first");
    assert_eq!(obs.read_slot(3).unwrap().state, SlotState::Free);
    // Fill up to head = 4: the producer's next write goes to slot 0, which
    // the consumer has released, so a copy of slot 0 can no longer be trusted.
    p.write_from(b"third").unwrap();
    p.write_from(b"fourth").unwrap();
    let mut slot = p.write_slot().unwrap();
    slot.copy_from(b"FIFTH");
    assert!(
        obs.read_slot(0).unwrap().torn,
        "the producer may be mid-write"
    );
    slot.commit(5).unwrap();
    let after = obs.read_slot(0).unwrap();
    assert_eq!(
        (after.state, after.position, after.torn),
        (SlotState::Pending, Some(4), false)
    );
    assert_eq!(after.bytes, b"FIFTH");
}

#[test]
fn one_million_frames_cross_a_real_segment_between_two_threads() {
    use forge_fabric::WaitStrategy;
    // Each frame: its sequence, then a body whose length and bytes follow
    // from it, so a gap, a duplicate or a torn copy shows.
    fn body_len(seq: u64) -> usize {
        (seq * 7919 % 600) as usize
    }
    const FRAMES: u64 = 1_000_000;
    let name = seg_name("million");
    let seg = Segment::create(&name.0, &CreateOptions::default()).unwrap();
    let seg = std::sync::Arc::new(seg);
    let claim = Claim::new().wait(WaitStrategy::Yield);
    let mut p = seg.producer_with(&claim).unwrap();
    let mut c = seg.consumer_with(&claim).unwrap();
    let producer = std::thread::spawn(move || {
        let mut buf = [0u8; 700];
        for seq in 0..FRAMES {
            let n = 8 + body_len(seq);
            buf[..8].copy_from_slice(&seq.to_le_bytes());
            buf[8..n].fill(seq as u8);
            while let Err(e) = p.write_from(&buf[..n]) {
                assert_eq!(e, forge_fabric::WriteError::Full);
                assert!(
                    p.wait_for_space(Duration::from_secs(10)),
                    "consumer stalled"
                );
            }
        }
    });
    for seq in 0..FRAMES {
        loop {
            let got = c
                .read_with(|bytes| {
                    let (head, body) = bytes.split_at(8);
                    assert_eq!(head, seq.to_le_bytes(), "gap or duplicate");
                    assert_eq!(body.len(), body_len(seq));
                    assert!(body.iter().all(|&b| b == seq as u8), "torn frame");
                })
                .unwrap();
            if got.is_some() {
                break;
            }
            assert!(
                c.wait_for_frame(Duration::from_secs(10)),
                "producer stalled at {seq}"
            );
        }
    }
    producer.join().unwrap();
    assert_eq!(c.messages(), FRAMES);
}

#[test]
fn concurrent_inits_on_one_name_leave_one_valid_segment() {
    let name = seg_name("race");
    let results: Vec<_> = (0..4)
        .map(|_| {
            let n = name.0.clone();
            std::thread::spawn(move || {
                Segment::replace(&n, &small(), LiveHolders::Refuse).map(|(s, _)| s.session_id())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let winners: Vec<u64> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    assert!(!winners.is_empty(), "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(
                matches!(e, SegmentError::Raced { .. }),
                "a loser fails cleanly: {e}"
            );
        }
    }
    let snap = Observer::open(&name.0, Duration::from_millis(100))
        .unwrap()
        .snapshot()
        .unwrap();
    assert!(winners.contains(&snap.identity.session_id));
}

#[test]
fn a_symlink_at_the_name_is_refused() {
    let target = seg_name("link_target");
    Segment::create(&target.0, &small()).unwrap();
    let link = seg_name("link");
    std::os::unix::fs::symlink(target.path(), link.path()).unwrap();
    let e = Segment::open(&link.0, Duration::ZERO).unwrap_err();
    assert!(
        matches!(
            e,
            SegmentError::NotRegular {
                what: "a symbolic link",
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        Observer::open(&link.0, Duration::ZERO),
        Err(SegmentError::NotRegular { .. })
    ));
}

#[test]
fn a_segment_owned_by_someone_else_or_world_writable_is_flagged() {
    use std::os::unix::fs::PermissionsExt;
    let name = seg_name("owner");
    Segment::create(&name.0, &small()).unwrap();
    assert_eq!(
        Segment::open(&name.0, Duration::ZERO)
            .unwrap()
            .owner_warning(),
        None
    );
    std::fs::set_permissions(name.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let warning = Observer::open(&name.0, Duration::ZERO)
        .unwrap()
        .owner_warning()
        .map(str::to_owned);
    assert!(warning.unwrap().contains("mode 0666"));
    if nix::unistd::geteuid().is_root() {
        std::fs::set_permissions(name.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        // The role-lock object goes with its segment (a daemon refuses one
        // owned by another user than the segment).
        std::os::unix::fs::chown(name.path(), Some(65534), None).unwrap();
        std::os::unix::fs::chown(format!("{}.roles", name.path()), Some(65534), None).unwrap();
        let seg = Segment::open(&name.0, Duration::ZERO).unwrap();
        assert!(seg.owner_warning().unwrap().contains("owned by uid 65534"));
    }
}

/// The observer's mapping is read-only: a store through it faults. The
/// store happens in a child process (this test binary re-run with an
/// environment variable), so the fault kills only the child.
#[test]
fn a_store_through_the_observer_mapping_faults_in_a_child_process() {
    const CHILD: &str = "FORGE_TEST_WRITE_FAULT_SEGMENT";
    if let Ok(name) = std::env::var(CHILD) {
        let obs = Observer::open(&name, Duration::ZERO).unwrap();
        let p = obs.mapping_ptr().cast_mut();
        // SAFETY: deliberately unsound: this child exists to show that the
        // store faults (SIGSEGV) instead of changing the segment.
        unsafe { p.add(40).write_volatile(0xFF) };
        std::process::exit(0);
    }
    let name = seg_name("rofault");
    Segment::create(&name.0, &small()).unwrap();
    let before = std::fs::read(name.path()).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_store_through_the_observer_mapping_faults_in_a_child_process",
        ])
        .env(CHILD, &name.0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc_sigsegv()),
        "child status {status:?}"
    );
    assert_eq!(
        std::fs::read(name.path()).unwrap(),
        before,
        "the segment is unchanged"
    );
}

fn libc_sigsegv() -> i32 {
    nix::sys::signal::Signal::SIGSEGV as i32
}

#[test]
fn a_killed_but_unreaped_holder_counts_as_dead() {
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(forge_fabric::segment::pid_alive(pid));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Not reaped yet: a zombie, which kill(pid, 0) still reaches.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while forge_fabric::segment::pid_alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "zombie {pid} still counted as alive"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait().unwrap();
    assert!(!forge_fabric::segment::pid_alive(pid));
    assert!(!forge_fabric::segment::pid_alive(0));
    assert!(!forge_fabric::segment::pid_alive(u32::MAX));
}

#[test]
fn a_slot_is_overwritable_only_while_a_producer_holds_the_role() {
    let name = seg_name("overwritable");
    let seg = Segment::create(&name.0, &small()).unwrap();
    let mut producer = seg.producer().unwrap();
    let mut consumer = seg.consumer().unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..4 {
        producer.write_from(b"frame").unwrap();
        producer.flush_index();
        consumer.read_into(&mut buf).unwrap().unwrap();
    }
    consumer.flush_index();
    let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
    // Slot 0 holds position 0, released; head is 4 = 0 + a lap: the producer
    // may be writing position 4 into it right now.
    let live = observer.read_slot(0).unwrap();
    assert_eq!(live.position, Some(0));
    assert!(live.overwritable && live.torn, "{live:?}");
    // Once the producer stopped, nothing will write it: its copy is sound.
    drop(producer);
    let after = observer.read_slot(0).unwrap();
    assert!(!after.overwritable && !after.torn, "{after:?}");
    assert_eq!(after.bytes, b"frame");
}

#[test]
fn read_slots_copies_like_read_slot_with_one_size_check_around_the_lot() {
    let name = seg_name("read_slots");
    let seg = Segment::create(&name.0, &small()).unwrap();
    let mut producer = seg.producer().unwrap();
    for i in 0..3u8 {
        producer.write_from(&[i; 40]).unwrap();
    }
    producer.flush_index();
    let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
    let lot = observer.read_slots(0..99, 16).unwrap();
    assert_eq!(lot.len(), 4, "clamped to the ring");
    for copy in &lot {
        assert_eq!(copy, &observer.read_slot_prefix(copy.index, 16).unwrap());
    }
    assert_eq!(lot[2].bytes, [2u8; 16]);
    assert!(
        observer.read_slots(7..9, 16).unwrap().is_empty(),
        "past the ring"
    );
    // A file cut short fails the lot, as it fails one slot.
    std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap()
        .set_len(4096)
        .unwrap();
    assert!(observer.read_slots(0..4, 16).is_err());
}
