//! One test per trap the ring's API used to set (issue 21), each showing
//! the trap is gone: the wait strategy is the claim's and the peer learns it
//! from the header; one name stores a side's index; one read family and one
//! write family; the application's flags cannot carry Forge's; claims need
//! no core; `create` never replaces.
#![cfg(not(loom))]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use forge_fabric::layout::{CORE_NONE, FRAME_RELAYED, HOLDER_PARKS, HOLDER_RELAYED};
use forge_fabric::{
    AppFlags, Claim, CreateOptions, LiveHolders, Observer, Obtained, Replaced, Segment,
    SegmentError, WaitStrategy, WriteError,
};

mod common;

fn seg_name(what: &str) -> common::Name {
    common::Name::new("traps", what)
}

fn small() -> CreateOptions {
    CreateOptions {
        slot_count: 8,
        ..Default::default()
    }
}

fn observe(name: &common::Name) -> forge_fabric::Snapshot {
    Observer::open(&name.0, Duration::ZERO)
        .unwrap()
        .snapshot()
        .unwrap()
}

#[test]
fn a_consumer_that_parks_wakes_within_a_millisecond_without_any_extra_call() {
    let name = seg_name("park");
    let segment = Segment::create(&name.0, &small()).unwrap();
    // The producer claims first, spinning, and is never told anything: the
    // consumer's claim alone must make its commits wake the consumer.
    let producer = segment.producer().unwrap();
    let consumer = segment
        .consumer_with(&Claim::new().wait(WaitStrategy::Park))
        .unwrap();
    let snap = observe(&name);
    assert_eq!(snap.consumer.wait_strategy, WaitStrategy::Park);
    assert_ne!(snap.consumer.flags & HOLDER_PARKS, 0, "the header says it");
    assert_eq!(snap.producer.flags & HOLDER_PARKS, 0);

    let waits = wake_times(producer, consumer, |_| ());
    let median = waits[waits.len() / 2];
    assert!(
        median < Duration::from_millis(1),
        "woken after {median:?} (median of {waits:?})"
    );
}

/// Seven times: `before` runs on the consumer's thread, then the consumer
/// waits for a frame that the producer commits 30 ms later (long enough for
/// it to stop spinning and sleep on its futex; its park slice is 10 ms, so
/// a lost wake shows as up to 10 ms). Returns the times from commit to
/// wake, sorted.
fn wake_times(
    mut producer: forge_fabric::Producer,
    consumer: forge_fabric::Consumer,
    before: impl Fn(&mut forge_fabric::Consumer) + Send + 'static,
) -> Vec<Duration> {
    const TRIALS: usize = 7;
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (woke_tx, woke_rx) = mpsc::channel::<Instant>();
    let reader = std::thread::spawn(move || {
        let mut consumer = consumer;
        for _ in 0..TRIALS {
            before(&mut consumer);
            ready_tx.send(()).unwrap();
            assert!(consumer.wait_for_frame(Duration::from_secs(5)), "no wake");
            woke_tx.send(Instant::now()).unwrap();
            consumer.read_with(|_| ()).unwrap().unwrap();
        }
    });
    let mut waits = Vec::new();
    for _ in 0..TRIALS {
        ready_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let sent = Instant::now();
        producer.write_from(b"wake up").unwrap();
        waits.push(woke_rx.recv().unwrap() - sent);
    }
    reader.join().unwrap();
    waits.sort();
    waits
}

#[test]
fn a_consumer_idle_since_its_last_wait_sleeps_at_once_and_is_still_woken() {
    let name = seg_name("idle");
    let segment = Segment::create(&name.0, &small()).unwrap();
    let producer = segment.producer().unwrap();
    let consumer = segment
        .consumer_with(&Claim::new().wait(WaitStrategy::Park))
        .unwrap();
    // Nothing comes: each first wait ends empty-handed, and the next one
    // starts asleep.
    let waits = wake_times(producer, consumer, |c| {
        assert!(!c.wait_for_frame(Duration::from_millis(2)));
    });
    let median = waits[waits.len() / 2];
    assert!(
        median < Duration::from_millis(1),
        "woken after {median:?} (median of {waits:?}); a lost wake shows as the 10 ms park slice"
    );
}

#[test]
fn the_wait_strategy_is_the_claim_s_and_the_wait_calls_use_it() {
    let name = seg_name("wait");
    let segment = Segment::create(&name.0, &small()).unwrap();
    let mut producer = segment
        .producer_with(&Claim::new().wait(WaitStrategy::Yield))
        .unwrap();
    let mut consumer = segment.consumer().unwrap();
    assert_eq!(producer.wait_strategy(), WaitStrategy::Yield);
    assert_eq!(consumer.wait_strategy(), WaitStrategy::Spin);
    let snap = observe(&name);
    assert_eq!(snap.producer.wait_strategy, WaitStrategy::Yield);
    assert_eq!(snap.consumer.wait_strategy, WaitStrategy::Spin);
    // The wait calls take no strategy: only a timeout.
    assert!(!consumer.wait_for_frame(Duration::from_millis(1)));
    for i in 0..8u8 {
        producer.write_from(&[i]).unwrap();
    }
    assert!(!producer.wait_for_space(Duration::from_millis(1)));
}

#[test]
fn both_sides_store_their_index_with_the_same_call() {
    let name = seg_name("index");
    let segment = Segment::create(&name.0, &small()).unwrap();
    let mut producer = segment.producer().unwrap();
    let mut consumer = segment.consumer().unwrap();
    producer.set_index_batch(32);
    consumer.set_index_batch(32);
    for i in 0..3u8 {
        producer.write_from(&[i]).unwrap();
    }
    consumer.read_with(|_| ()).unwrap().unwrap();
    let snap = observe(&name);
    assert_eq!((snap.head, snap.tail), (0, 0), "both batched");
    assert_eq!((snap.producer.batch, snap.consumer.batch), (32, 32));
    producer.flush_index();
    consumer.flush_index();
    let snap = observe(&name);
    assert_eq!((snap.head, snap.tail), (3, 1));
    // A commit is what makes a frame visible to the consumer, whatever the
    // index says.
    producer.write_from(b"seen at once").unwrap();
    assert!(consumer.is_ready());
}

#[test]
fn each_member_of_the_read_family_reads_one_frame_and_frees_its_slot() {
    let (mut producer, mut consumer) = forge_fabric::heap_ring(4);
    // The write family: in place, through a closure, from a slice.
    let mut slot = producer.write_slot().unwrap();
    slot.payload_mut()[..4].copy_from_slice(b"slot");
    assert_eq!(slot.commit(4), Ok(0));
    assert_eq!(
        producer.write_with(|payload| {
            payload[..4].copy_from_slice(b"with");
            4
        }),
        Ok(1)
    );
    assert_eq!(producer.write_from(b"from"), Ok(2));
    assert_eq!(producer.write_from(b"full"), Ok(3));
    assert_eq!(producer.write_from(b"more"), Err(WriteError::Full));

    let frame = consumer.read_slot().unwrap().unwrap();
    assert_eq!(&*frame, b"slot");
    frame.release();
    assert_eq!(
        consumer.read_with(|bytes| bytes.to_vec()).unwrap(),
        Some(b"with".to_vec())
    );
    let mut buf = [0u8; 8];
    assert_eq!(consumer.read_into(&mut buf).unwrap(), Some(4));
    assert_eq!(&buf[..4], b"from");
    // Three slots freed: three more frames fit.
    for i in 0..3u8 {
        producer.write_from(&[i]).unwrap();
    }
    assert_eq!(producer.write_from(b"x"), Err(WriteError::Full));
}

#[test]
fn application_flags_never_carry_forge_s_relayed_bit_and_a_relayed_claim_always_does() {
    let name = seg_name("flags");
    let segment = Segment::create(&name.0, &small()).unwrap();
    let mut producer = segment.producer().unwrap();
    let mut consumer = segment.consumer().unwrap();
    // Every bit an application can ask for.
    let all = AppFlags::from_bits_truncate(u16::MAX);
    let mut slot = producer.write_slot().unwrap();
    slot.copy_from(b"app");
    slot.commit_flagged(3, all).unwrap();
    let observer = Observer::open(&name.0, Duration::ZERO).unwrap();
    let word_flags = observer.read_slot(0).unwrap().flags;
    assert_eq!(word_flags, AppFlags::MASK);
    assert_eq!(word_flags & FRAME_RELAYED, 0);
    let frame = consumer.read_slot().unwrap().unwrap();
    assert_eq!((frame.flags(), frame.relayed()), (all, false));
    frame.release();
    drop(producer);
    assert_eq!(observe(&name).producer.flags & HOLDER_RELAYED, 0);

    // The relayed claim: the holder says RELAYED and every frame carries it.
    let mut relay = segment.relayed_producer(&Claim::new()).unwrap();
    relay.set_origin(7);
    relay.write_from(b"relayed").unwrap();
    let snap = observe(&name);
    assert_ne!(snap.producer.flags & HOLDER_RELAYED, 0);
    assert_eq!(snap.producer.relay_session, 7);
    assert_ne!(observer.read_slot(1).unwrap().flags & FRAME_RELAYED, 0);
    let frame = consumer.read_slot().unwrap().unwrap();
    assert!(frame.relayed());
    assert_eq!(frame.flags(), AppFlags::NONE);
    frame.release();
    // A relaying holder that takes over finds whose sequence the last
    // frame carries: the claim leaves the origin as it was.
    drop(relay);
    let _again = segment.relayed_producer(&Claim::new()).unwrap();
    assert_eq!(segment.relay_session(), 7);
}

#[test]
fn a_claim_takes_no_core_and_records_one_only_when_asked() {
    let name = seg_name("core");
    let segment = Segment::create(&name.0, &small()).unwrap();
    let producer = segment.producer().unwrap();
    let consumer = segment
        .consumer_with(&Claim::new().pinned_core(1).program("trap-test"))
        .unwrap();
    let snap = observe(&name);
    assert_eq!((snap.producer.core, snap.consumer.core), (None, Some(1)));
    assert_eq!(
        segment
            .raw_header()
            .producer
            .core
            .load(std::sync::atomic::Ordering::Relaxed),
        CORE_NONE
    );
    assert_eq!(snap.consumer.program, "trap-test");
    drop((producer, consumer));
}

#[test]
fn create_never_replaces_what_is_at_the_name() {
    let name = seg_name("create");
    let first = Segment::create(&name.0, &small()).unwrap();
    // Nobody holds it, and still: create refuses, and leaves it live.
    assert!(matches!(
        Segment::create(&name.0, &small()),
        Err(SegmentError::Exists { .. })
    ));
    assert!(first.check_session().is_ok());
    assert_eq!(observe(&name).identity.session_id, first.session_id());
    // open_or_create opens it; one of other slots is refused, not replaced.
    let (same, how) = Segment::open_or_create(&name.0, &small(), Duration::ZERO).unwrap();
    assert_eq!(
        (how, same.session_id()),
        (Obtained::Opened, first.session_id())
    );
    let bigger = CreateOptions {
        slot_count: 16,
        ..small()
    };
    assert!(matches!(
        Segment::open_or_create(&name.0, &bigger, Duration::ZERO),
        Err(SegmentError::Mismatch { slot_count: 8, .. })
    ));
    assert!(first.check_session().is_ok());
    // Replacing is its own call, and says what it replaced.
    let (second, replaced) = Segment::replace(&name.0, &small(), LiveHolders::Refuse).unwrap();
    assert_eq!(replaced, Replaced::Session(first.session_id()));
    assert!(first.check_session().is_err());
    drop(second);
    // Nothing at the name: open_or_create creates.
    let fresh = seg_name("fresh");
    let (_, how) = Segment::open_or_create(&fresh.0, &small(), Duration::ZERO).unwrap();
    assert_eq!(how, Obtained::Created);
}
