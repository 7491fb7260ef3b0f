//! Faults at the fabric level: a truncation racing an observer's loads (the
//! SIGBUS guard), initializers that died or raced, and hostile header bytes.
//!
//! The SIGBUS tests run in a child process (this test binary re-run with an
//! environment variable), so a guard that failed would kill only the child.
#![cfg(not(loom))]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use forge_fabric::layout::*;
use forge_fabric::observe::fault_guard;
use forge_fabric::segment::validate_header_bytes;
use forge_fabric::{
    CreateOptions, LiveHolders, ObserveError, Observer, Replaced, Segment, SegmentError,
};
use proptest::prelude::*;

mod common;

/// A segment name of this suite, unlinked on drop.
fn seg_name(what: &str) -> common::Name {
    common::Name::new("faults", what)
}

fn slots(n: u32) -> CreateOptions {
    CreateOptions {
        slot_count: n,
        ..Default::default()
    }
}

const CHILD: &str = "FORGE_TEST_FAULTS_CHILD";

/// Runs test `test` of this binary in a child with `CHILD=mode`; returns
/// its status and stderr.
fn in_child(test: &str, mode: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD, mode)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn truncate(path: &str, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_fault_in_an_observer_mapping_poisons_the_observer_instead_of_killing_the_process() {
    const TEST: &str =
        "a_fault_in_an_observer_mapping_poisons_the_observer_instead_of_killing_the_process";
    match std::env::var(CHILD).as_deref() {
        Ok("observer") => {
            let name = seg_name("guard");
            let seg = Segment::create(&name.0, &slots(4)).unwrap();
            let obs = Observer::open(&name.0, Duration::ZERO).unwrap();
            assert!(fault_guard::installed());
            truncate(&name.path(), HEADER_SIZE as u64);
            // The load the size check cannot cover: a truncation between
            // the check and the read. Without the guard this is a SIGBUS.
            // SAFETY: inside the observer's mapping; reading is what is
            // tested (the page is gone, so the guard must answer).
            let v = unsafe {
                std::ptr::read_volatile(obs.mapping_ptr().add(HEADER_SIZE + 8).cast::<u64>())
            };
            assert_eq!(v, 0, "the vanished page reads as zeros");
            assert!(obs.faulted());
            // Even with the size restored, the observer stays poisoned: part
            // of its mapping is a private zero page now.
            truncate(&name.path(), seg.size());
            assert!(matches!(
                obs.snapshot(),
                Err(ObserveError::Truncated { .. })
            ));
            assert!(obs.read_slot(1).is_err());
            // A fresh observer is sound again.
            let fresh = Observer::open(&name.0, Duration::ZERO).unwrap();
            assert!(fresh.snapshot().is_ok() && !fresh.faulted());
            eprintln!("CHILD-OK");
        }
        Ok(mode) if mode.starts_with("foreign:") => {
            // A SIGBUS outside every observer mapping still kills, as
            // without the guard. (The parent owns the name: this process
            // dies before any drop could unlink it.)
            let name = common::Name(mode["foreign:".len()..].to_owned());
            let _seg = Segment::create(&name.0, &slots(4)).unwrap();
            let _obs = Observer::open(&name.0, Duration::ZERO).unwrap();
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(name.path())
                .unwrap();
            // SAFETY: a private test mapping of a file we then truncate.
            let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
            truncate(&name.path(), 0);
            // SAFETY: deliberately touches a vanished page: SIGBUS expected.
            let v = unsafe { std::ptr::read_volatile(map.as_ptr().add(HEADER_SIZE)) };
            eprintln!("CHILD-SURVIVED {v}");
        }
        Ok(_) => {}
        Err(_) => {
            let (status, err) = in_child(TEST, "observer");
            assert!(
                status.success() && err.contains("CHILD-OK"),
                "{status:?}\n{err}"
            );
            let name = seg_name("foreign_bus");
            let (status, err) = in_child(TEST, &format!("foreign:{}", name.0));
            assert_eq!(
                status.signal(),
                Some(nix::sys::signal::Signal::SIGBUS as i32),
                "{status:?}\n{err}"
            );
        }
    }
}

#[test]
fn an_observer_sampling_while_the_file_is_truncated_and_restored_never_faults() {
    const TEST: &str = "an_observer_sampling_while_the_file_is_truncated_and_restored_never_faults";
    if std::env::var(CHILD).is_ok() {
        let name = seg_name("flap");
        let seg = Segment::create(&name.0, &slots(64)).unwrap();
        let size = seg.size();
        let path = name.path();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flapper = {
            let stop = stop.clone();
            let path = path.clone();
            std::thread::spawn(move || {
                let mut flaps = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    truncate(&path, HEADER_SIZE as u64);
                    truncate(&path, size);
                    flaps += 1;
                }
                flaps
            })
        };
        let (mut ok, mut refused, mut poisoned) = (0u64, 0u64, 0u64);
        let deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < deadline {
            let Ok(obs) = Observer::open(&name.0, Duration::ZERO) else {
                refused += 1;
                continue;
            };
            for round in 0..50u32 {
                let a = obs.snapshot();
                let b = obs.read_slot(round % 64);
                match (a, b) {
                    (Ok(_), Ok(_)) => ok += 1,
                    _ => refused += 1,
                }
            }
            poisoned += u64::from(obs.faulted());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let flaps = flapper.join().unwrap();
        eprintln!(
            "CHILD-OK {flaps} truncations; samples: {ok} whole, {refused} refused; \
             {poisoned} observers absorbed a SIGBUS"
        );
        return;
    }
    let (status, err) = in_child(TEST, "flap");
    eprintln!("{err}");
    assert!(
        status.success() && err.contains("CHILD-OK"),
        "{status:?}\n{err}"
    );
}

#[test]
fn a_partial_object_of_a_dead_forge_init_is_refused_by_name_and_replaced_with_force() {
    let name = seg_name("partial");
    // Created, never sized: what a forge-init killed at that point leaves.
    std::fs::File::create(name.path()).unwrap();
    assert!(matches!(
        Segment::create(&name.0, &slots(4)),
        Err(SegmentError::Exists { .. })
    ));
    let e = Segment::replace(&name.0, &slots(4), LiveHolders::Refuse).unwrap_err();
    assert!(
        matches!(&e, SegmentError::Occupied { source, .. } if matches!(**source, SegmentError::StaleInit { .. })),
        "{e}"
    );
    assert!(std::error::Error::source(&e)
        .unwrap()
        .to_string()
        .contains("partial segment"));
    // Sized, header still zero: the same.
    truncate(&name.path(), 4096 + 4 * 4104);
    assert!(Segment::replace(&name.0, &slots(4), LiveHolders::Refuse).is_err());
    let (seg, replaced) = Segment::replace(&name.0, &slots(4), LiveHolders::Retire).unwrap();
    assert!(matches!(replaced, Replaced::Foreign(ref w) if w.contains("partial")));
    assert!(
        Observer::open(&name.0, Duration::ZERO)
            .unwrap()
            .session_id()
            == seg.session_id()
    );
}

#[test]
fn inits_that_find_a_segment_created_after_they_started_lose_the_race() {
    let name = seg_name("late");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let results: Vec<_> = (0..8)
        .map(|_| {
            let n = name.0.clone();
            let b = barrier.clone();
            std::thread::spawn(move || {
                b.wait();
                Segment::replace(&n, &slots(4), LiveHolders::Refuse)
                    .map(|(s, r)| (s.session_id(), r))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    // One creates; those that find its fresh segment step back with Raced.
    // A thread that only reached create() after a winner had finished is
    // sequential, not concurrent: it replaces that segment, retiring it.
    let sessions: Vec<u64> = winners.iter().map(|w| w.0).collect();
    assert_eq!(
        winners.iter().filter(|w| w.1 == Replaced::Nothing).count(),
        1,
        "{results:?}"
    );
    for (_, replaced) in &winners {
        if let Replaced::Session(old) = replaced {
            assert!(sessions.contains(old), "{results:?}");
        }
    }
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, SegmentError::Raced { .. }), "{e}");
        }
    }
    let live = Observer::open(&name.0, Duration::ZERO)
        .unwrap()
        .session_id();
    assert!(sessions.contains(&live));
    eprintln!(
        "8 concurrent creates: {} won, {} stepped back",
        winners.len(),
        results.len() - winners.len()
    );
}

/// Bytes of a valid 4-slot segment.
fn valid_segment_bytes() -> Vec<u8> {
    let name = seg_name("template");
    let _seg = Segment::create(&name.0, &slots(4)).unwrap();
    std::fs::read(name.path()).unwrap()
}

#[test]
fn header_bytes_validate_like_a_mapped_segment() {
    let good = valid_segment_bytes();
    let (session, n, capacity) = validate_header_bytes(&good).unwrap();
    assert_ne!(session, 0);
    assert_eq!((n, capacity), (4, forge_fabric::PAYLOAD_CAPACITY));
    // Layout 2 is the same bytes with every capacity 4096: still read.
    let mut v2 = good.clone();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(validate_header_bytes(&v2).unwrap(), (session, n, capacity));
    assert!(matches!(
        validate_header_bytes(&good[..100]),
        Err(SegmentError::TooShort { .. })
    ));
    assert!(matches!(
        validate_header_bytes(&good[..good.len() - 1]),
        Err(SegmentError::TooShort { .. })
    ));
    assert!(matches!(
        validate_header_bytes(&[]),
        Err(SegmentError::Initializing { .. })
    ));
}

#[test]
fn small_slots_validate_and_layout_2_cannot_declare_them() {
    let name = seg_name("small");
    let opts = CreateOptions {
        slot_count: 8,
        payload_capacity: 56,
        ..CreateOptions::default()
    };
    let seg = Segment::create(&name.0, &opts).unwrap();
    assert_eq!(seg.payload_capacity(), 56);
    let bytes = std::fs::read(name.path()).unwrap();
    assert_eq!(bytes.len(), segment_size(8, 56));
    assert_eq!(bytes.len(), 4096 + 8 * 64);
    let (_, n, capacity) = validate_header_bytes(&bytes).unwrap();
    assert_eq!((n, capacity), (8, 56));
    // A layout-2 header may only say 4096.
    let mut v2 = bytes.clone();
    v2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let e = validate_header_bytes(&v2).unwrap_err();
    assert!(
        e.to_string()
            .contains("payload_capacity is 56, expected 4096 (layout 2)"),
        "{e}"
    );
    // Capacities that would misalign a slot word, or exceed a frame, are
    // refused when asked for and when found.
    for bad in [0usize, 4, 60, 4104] {
        let e = Segment::create(
            &name.0,
            &CreateOptions {
                payload_capacity: bad,
                ..opts.clone()
            },
        )
        .unwrap_err();
        assert!(
            matches!(e, SegmentError::BadPayloadCapacity { .. }),
            "{bad}: {e}"
        );
    }
    let mut odd = bytes;
    odd[72..76].copy_from_slice(&60u32.to_le_bytes());
    let e = validate_header_bytes(&odd).unwrap_err();
    assert!(e.to_string().contains("payload_capacity is 60"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any change to the identity line of a valid header, and any length,
    /// gives either a typed error or a geometry that fits the bytes: never a
    /// panic, never a slot count the file cannot hold.
    #[test]
    fn mutated_headers_give_a_typed_error_or_a_geometry_that_fits(
        edits in proptest::collection::vec((0usize..128, any::<u8>()), 0..12),
        cut in proptest::option::of(0usize..(4096 + 4 * 4104)),
        // Bias toward the fields the validator reads.
        word in proptest::option::of((0usize..10, any::<u64>())),
    ) {
        let mut bytes = VALID.with(|v| v.clone());
        for (at, value) in edits {
            bytes[at] = value;
        }
        if let Some((field, value)) = word {
            let at = field * 8;
            bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        if let Some(cut) = cut {
            bytes.truncate(cut);
        }
        match validate_header_bytes(&bytes) {
            Ok((session, n, capacity)) => {
                prop_assert_ne!(session, 0);
                prop_assert!(n.is_power_of_two());
                prop_assert!(segment_size(n, capacity) <= bytes.len());
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    /// Arbitrary bytes of any length: a typed error or a fitting geometry.
    #[test]
    fn arbitrary_header_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
        if let Ok((_, n, capacity)) = validate_header_bytes(&bytes) {
            prop_assert!(segment_size(n, capacity) <= bytes.len());
        }
    }
}

thread_local! {
    static VALID: Vec<u8> = valid_segment_bytes();
}
