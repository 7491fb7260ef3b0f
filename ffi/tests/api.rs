//! The C ABI called as C calls it (through the rlib's `extern "C"`
//! functions): status codes, messages, NULL arguments, and each part of the
//! API doing what the header says. Segments are named
//! `/forge_test_ffi_api_<pid>_<n>` and unlinked by a guard on every path.

use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use forge_ffi::*;

static NEXT: AtomicU32 = AtomicU32::new(1);

/// A segment name of this test process; unlinked on drop.
struct Name(CString);

impl Name {
    fn new() -> Name {
        let name = format!(
            "/forge_test_ffi_api_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let _ = forge_fabric::segment::unlink(&name);
        Name(CString::new(name).unwrap())
    }

    fn ptr(&self) -> *const std::ffi::c_char {
        self.0.as_ptr()
    }

    fn str(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = forge_fabric::segment::unlink(self.str());
    }
}

fn last_message() -> String {
    // SAFETY: a NUL-terminated string alive until the next failure here.
    unsafe { CStr::from_ptr(forge_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn options(slots: u32) -> ForgeCreateOptions {
    ForgeCreateOptions {
        slot_count: slots,
        ..forge_create_options_default()
    }
}

fn create(name: &Name, slots: u32) -> *mut ForgeSegment {
    let mut segment = null_mut();
    // SAFETY: valid pointers.
    let status = unsafe { forge_segment_create(name.ptr(), &options(slots), &mut segment) };
    assert_eq!(status, ForgeStatus::Ok, "{}", last_message());
    segment
}

fn claim_with(wait: ForgeWaitStrategy, program: &CStr) -> ForgeClaim {
    ForgeClaim {
        wait: wait as u32,
        program: program.as_ptr(),
        ..forge_claim_default()
    }
}

fn producer(segment: *const ForgeSegment, claim: *const ForgeClaim) -> *mut ForgeProducer {
    let mut p = null_mut();
    // SAFETY: valid pointers.
    let status = unsafe { forge_producer_new(segment, claim, &mut p) };
    assert_eq!(status, ForgeStatus::Ok, "{}", last_message());
    p
}

fn consumer(segment: *const ForgeSegment, claim: *const ForgeClaim) -> *mut ForgeConsumer {
    let mut c = null_mut();
    // SAFETY: valid pointers.
    let status = unsafe { forge_consumer_new(segment, claim, &mut c) };
    assert_eq!(status, ForgeStatus::Ok, "{}", last_message());
    c
}

/// The bytes a lent frame points to.
fn bytes(frame: &ForgeFrame) -> Vec<u8> {
    // SAFETY: the frame is lent (not yet released): `len` bytes at `data`.
    unsafe { std::slice::from_raw_parts(frame.data.cast::<u8>(), frame.len) }.to_vec()
}

#[test]
fn every_function_given_null_pointers_says_so_and_does_not_crash() {
    use ForgeStatus::NullArgument as N;
    let name = Name::new();
    let segment = create(&name, 8);
    let p = producer(segment, null());
    let c = consumer(segment, null());
    let mut out_segment = null_mut();
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    // SAFETY: every pointer is NULL or valid; NULL is what is tested.
    let calls: Vec<(&str, ForgeStatus)> = unsafe {
        vec![
            (
                "segment_create name",
                forge_segment_create(null(), null(), &mut out_segment),
            ),
            (
                "segment_create out",
                forge_segment_create(name.ptr(), null(), null_mut()),
            ),
            (
                "segment_open name",
                forge_segment_open(null(), 0, &mut out_segment),
            ),
            (
                "segment_open out",
                forge_segment_open(name.ptr(), 0, null_mut()),
            ),
            (
                "open_or_create name",
                forge_segment_open_or_create(null(), null(), 0, &mut out_segment, null_mut()),
            ),
            (
                "open_or_create out",
                forge_segment_open_or_create(name.ptr(), null(), 0, null_mut(), null_mut()),
            ),
            (
                "segment_replace name",
                forge_segment_replace(null(), null(), false, &mut out_segment, null_mut()),
            ),
            (
                "segment_replace out",
                forge_segment_replace(name.ptr(), null(), false, null_mut(), null_mut()),
            ),
            (
                "segment_info segment",
                forge_segment_info(null(), &mut std::mem::zeroed()),
            ),
            ("segment_info info", forge_segment_info(segment, null_mut())),
            ("segment_unlink", forge_segment_unlink(null())),
            ("unlink", forge_unlink(null())),
            (
                "producer_new segment",
                forge_producer_new(null(), null(), &mut null_mut()),
            ),
            (
                "producer_new out",
                forge_producer_new(segment, null(), null_mut()),
            ),
            (
                "producer_push producer",
                forge_producer_push(null_mut(), buf.as_ptr().cast(), 1, null_mut()),
            ),
            (
                "producer_push data",
                forge_producer_push(p, null(), 1, null_mut()),
            ),
            (
                "producer_claim producer",
                forge_producer_claim(null_mut(), &mut std::mem::zeroed()),
            ),
            ("producer_claim slot", forge_producer_claim(p, null_mut())),
            (
                "producer_commit",
                forge_producer_commit(null_mut(), 0, 0, null_mut()),
            ),
            ("producer_wait", forge_producer_wait(null_mut(), 0)),
            ("producer_check", forge_producer_check(null_mut())),
            (
                "producer_info producer",
                forge_producer_info(null(), &mut std::mem::zeroed()),
            ),
            ("producer_info info", forge_producer_info(p, null_mut())),
            (
                "consumer_new segment",
                forge_consumer_new(null(), null(), &mut null_mut()),
            ),
            (
                "consumer_new out",
                forge_consumer_new(segment, null(), null_mut()),
            ),
            (
                "consumer_read consumer",
                forge_consumer_read(null_mut(), &mut std::mem::zeroed()),
            ),
            ("consumer_read frame", forge_consumer_read(c, null_mut())),
            ("consumer_release", forge_consumer_release(null_mut())),
            (
                "consumer_read_into consumer",
                forge_consumer_read_into(
                    null_mut(),
                    buf.as_mut_ptr().cast(),
                    64,
                    &mut len,
                    null_mut(),
                ),
            ),
            (
                "consumer_read_into buffer",
                forge_consumer_read_into(c, null_mut(), 64, &mut len, null_mut()),
            ),
            (
                "consumer_read_into len",
                forge_consumer_read_into(c, buf.as_mut_ptr().cast(), 64, null_mut(), null_mut()),
            ),
            ("consumer_wait", forge_consumer_wait(null_mut(), 0)),
            ("consumer_check", forge_consumer_check(null_mut())),
            (
                "consumer_info consumer",
                forge_consumer_info(null(), &mut std::mem::zeroed()),
            ),
            ("consumer_info info", forge_consumer_info(c, null_mut())),
            (
                "holder_producer_new name",
                forge_holder_producer_new(null(), null(), &mut null_mut()),
            ),
            (
                "holder_producer_new out",
                forge_holder_producer_new(name.ptr(), null(), null_mut()),
            ),
            (
                "holder_consumer_new name",
                forge_holder_consumer_new(null(), null(), &mut null_mut()),
            ),
            (
                "holder_consumer_new out",
                forge_holder_consumer_new(name.ptr(), null(), null_mut()),
            ),
            (
                "holder_write",
                forge_holder_write(null_mut(), buf.as_ptr().cast(), 1, null_mut()),
            ),
            (
                "holder_claim",
                forge_holder_claim(null_mut(), &mut std::mem::zeroed()),
            ),
            (
                "holder_commit",
                forge_holder_commit(null_mut(), 0, 0, null_mut()),
            ),
            (
                "holder_read",
                forge_holder_read(null_mut(), &mut std::mem::zeroed()),
            ),
            ("holder_release", forge_holder_release(null_mut())),
            ("holder_wait", forge_holder_wait(null_mut())),
            ("holder_check", forge_holder_check(null_mut())),
            ("holder_stop", forge_holder_stop(null())),
            (
                "holder_info",
                forge_holder_info(null(), &mut std::mem::zeroed()),
            ),
            (
                "observer_open name",
                forge_observer_open(null(), 0, &mut null_mut()),
            ),
            (
                "observer_open out",
                forge_observer_open(name.ptr(), 0, null_mut()),
            ),
            (
                "observer_snapshot observer",
                forge_observer_snapshot(null(), &mut std::mem::zeroed()),
            ),
            (
                "frame_encode out",
                forge_frame_encode(null_mut(), 64, 0, 0, 0, 1, buf.as_ptr().cast(), 1, &mut len),
            ),
            (
                "frame_encode body",
                forge_frame_encode(buf.as_mut_ptr().cast(), 64, 0, 0, 0, 1, null(), 1, &mut len),
            ),
            (
                "frame_encode frame_len",
                forge_frame_encode(
                    buf.as_mut_ptr().cast(),
                    64,
                    0,
                    0,
                    0,
                    1,
                    null(),
                    0,
                    null_mut(),
                ),
            ),
            (
                "frame_write_header out",
                forge_frame_write_header(null_mut(), 64, 0, 0, 0, 1, 0, &mut len),
            ),
            (
                "frame_write_header frame_len",
                forge_frame_write_header(buf.as_mut_ptr().cast(), 64, 0, 0, 0, 1, 0, null_mut()),
            ),
            ("frame_check", forge_frame_check(null(), 32, null_mut())),
        ]
    };
    for (what, status) in calls {
        assert_eq!(status, N, "{what}");
        assert!(
            last_message().contains("is NULL"),
            "{what}: {}",
            last_message()
        );
    }
    assert!(
        out_segment.is_null(),
        "a failed call leaves NULL in its output handle"
    );
    // SAFETY: NULL is allowed; then the handles made above.
    unsafe {
        forge_segment_drop(null_mut());
        forge_producer_drop(null_mut());
        forge_consumer_drop(null_mut());
        forge_holder_drop(null_mut());
        forge_observer_drop(null_mut());
        forge_producer_drop(p);
        forge_consumer_drop(c);
        forge_segment_drop(segment);
    }
}

#[test]
fn segments_are_created_described_opened_retired_and_unlinked() {
    let name = Name::new();
    let segment = create(&name, 16);
    // SAFETY: all zeros is a ForgeSegmentInfo (integers only).
    let mut info: ForgeSegmentInfo = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers throughout; handles dropped once.
    unsafe {
        assert_eq!(forge_segment_info(segment, &mut info), ForgeStatus::Ok);
        assert_eq!((info.slot_count, info.payload_capacity), (16, 4096));
        assert_ne!(info.session, 0);

        let mut again = null_mut();
        assert_eq!(
            forge_segment_create(name.ptr(), null(), &mut again),
            ForgeStatus::Exists
        );
        assert!(again.is_null());
        assert!(last_message().contains(name.str()), "{}", last_message());

        let mut opened = null_mut();
        assert_eq!(
            forge_segment_open(name.ptr(), 0, &mut opened),
            ForgeStatus::Ok
        );
        let mut opened_info: ForgeSegmentInfo = std::mem::zeroed();
        forge_segment_info(opened, &mut opened_info);
        assert_eq!(opened_info.session, info.session);
        forge_segment_drop(opened);

        let mut created = true;
        let mut either = null_mut();
        assert_eq!(
            forge_segment_open_or_create(name.ptr(), &options(16), 0, &mut either, &mut created),
            ForgeStatus::Ok
        );
        assert!(!created, "it was there");
        forge_segment_drop(either);
        assert_eq!(
            forge_segment_open_or_create(name.ptr(), &options(32), 0, &mut either, &mut created),
            ForgeStatus::Mismatch
        );

        // A live producer: replacing is refused unless told to retire it.
        let p = producer(segment, null());
        let mut new = null_mut();
        let mut retired = 0u64;
        assert_eq!(
            forge_segment_replace(name.ptr(), null(), false, &mut new, &mut retired),
            ForgeStatus::Active
        );
        assert_eq!(
            forge_segment_replace(name.ptr(), null(), true, &mut new, &mut retired),
            ForgeStatus::Ok
        );
        assert_eq!(retired, info.session, "the old session was retired");
        assert_eq!(
            forge_producer_check(p),
            ForgeStatus::SessionRetired,
            "and its producer sees it"
        );
        assert_eq!(
            forge_holder_exit_code(ForgeStatus::SessionRetired as i32),
            3
        );
        forge_producer_drop(p);
        forge_segment_drop(segment);

        assert_eq!(forge_segment_unlink(new), ForgeStatus::Ok);
        forge_segment_drop(new);
        assert_eq!(
            forge_segment_open(name.ptr(), 0, &mut opened),
            ForgeStatus::Missing
        );
        assert!(
            last_message().contains("does not exist"),
            "{}",
            last_message()
        );
        assert_eq!(forge_unlink(name.ptr()), ForgeStatus::Missing);
    }
}

#[test]
fn bad_arguments_are_refused_with_a_message_naming_what_was_expected() {
    let name = Name::new();
    // SAFETY: valid pointers throughout.
    unsafe {
        let mut segment = null_mut();
        assert_eq!(
            forge_segment_create(c"no_slash".as_ptr(), null(), &mut segment),
            ForgeStatus::InvalidArgument
        );
        assert!(
            last_message().contains("invalid segment name"),
            "{}",
            last_message()
        );
        assert_eq!(
            forge_segment_create(name.ptr(), &options(3), &mut segment),
            ForgeStatus::InvalidArgument
        );
        assert!(
            last_message().contains("power of two"),
            "{}",
            last_message()
        );
        assert_eq!(
            forge_segment_create(c"/bad\xff".as_ptr(), null(), &mut segment),
            ForgeStatus::InvalidArgument
        );
        assert!(last_message().contains("not UTF-8"), "{}", last_message());

        let segment = create(&name, 8);
        let bad_wait = ForgeClaim {
            wait: 7,
            ..forge_claim_default()
        };
        let mut p = null_mut();
        assert_eq!(
            forge_producer_new(segment, &bad_wait, &mut p),
            ForgeStatus::InvalidArgument
        );
        assert!(last_message().contains("expected 0 (spin), 1 (yield) or 2 (park)"));
        let bad_core = ForgeClaim {
            pinned_core: -2,
            ..forge_claim_default()
        };
        assert_eq!(
            forge_producer_new(segment, &bad_core, &mut p),
            ForgeStatus::InvalidArgument
        );
        let p = producer(segment, null());
        let mut slot: ForgeWriteSlot = std::mem::zeroed();
        assert_eq!(forge_producer_claim(p, &mut slot), ForgeStatus::Ok);
        assert_eq!(
            forge_producer_commit(p, 1, 0x0001, null_mut()),
            ForgeStatus::InvalidArgument,
            "bit 0 is Forge's RELAYED flag"
        );
        assert!(last_message().contains("bit 0"), "{}", last_message());
        assert_eq!(
            forge_producer_commit(p, 4097, 0, null_mut()),
            ForgeStatus::TooLarge
        );
        assert_eq!(
            forge_producer_commit(p, 1, 0x0002, null_mut()),
            ForgeStatus::Ok,
            "the slot stayed claimed"
        );
        forge_producer_drop(p);
        forge_segment_drop(segment);
    }
}

#[test]
fn a_producer_and_a_consumer_move_frames_by_push_and_by_claim_and_commit() {
    let name = Name::new();
    let segment = create(&name, 4);
    let p = producer(segment, null());
    let c = consumer(segment, null());
    // SAFETY: valid pointers and live handles throughout.
    unsafe {
        let mut at = u64::MAX;
        assert_eq!(
            forge_producer_push(p, b"one".as_ptr().cast(), 3, &mut at),
            ForgeStatus::Ok
        );
        assert_eq!(at, 0);

        let mut slot: ForgeWriteSlot = std::mem::zeroed();
        assert_eq!(forge_producer_claim(p, &mut slot), ForgeStatus::Ok);
        assert_eq!((slot.position, slot.capacity), (1, 4096));
        std::ptr::copy_nonoverlapping(b"two!".as_ptr(), slot.data.cast::<u8>(), 4);
        assert_eq!(
            forge_producer_commit(p, 4, 1 << 3, &mut at),
            ForgeStatus::Ok
        );
        assert_eq!(at, 1);

        let mut frame: ForgeFrame = std::mem::zeroed();
        assert_eq!(forge_consumer_read(c, &mut frame), ForgeStatus::Ok);
        assert_eq!((bytes(&frame), frame.position), (b"one".to_vec(), 0));
        let mut again: ForgeFrame = std::mem::zeroed();
        forge_consumer_read(c, &mut again);
        assert_eq!(
            again.position, 0,
            "unreleased, the same frame is lent again"
        );
        assert_eq!(forge_consumer_release(c), ForgeStatus::Ok);
        assert_eq!(forge_consumer_read(c, &mut frame), ForgeStatus::Ok);
        assert_eq!(bytes(&frame), b"two!");
        assert_eq!((frame.flags, frame.relayed), (1 << 3, false));
        forge_consumer_release(c);

        // Empty and full are answers, not failures: no message is made.
        forge_unlink(c"no_slash".as_ptr());
        let before = last_message();
        assert_eq!(forge_consumer_read(c, &mut frame), ForgeStatus::Empty);
        assert_eq!(forge_consumer_wait(c, 1), ForgeStatus::Empty);
        for i in 0..4u8 {
            assert_eq!(
                forge_producer_push(p, [i; 8].as_ptr().cast(), 8, null_mut()),
                ForgeStatus::Ok
            );
        }
        assert_eq!(
            forge_producer_push(p, b"x".as_ptr().cast(), 1, null_mut()),
            ForgeStatus::Full
        );
        assert_eq!(forge_producer_claim(p, &mut slot), ForgeStatus::Full);
        assert_eq!(forge_producer_wait(p, 1), ForgeStatus::Full);
        assert_eq!(last_message(), before);

        // Copy out: a buffer too small leaves the frame where it is.
        let mut small = [0u8; 4];
        let mut big = [0u8; 64];
        let mut len = 0usize;
        let mut position = 0u64;
        assert_eq!(
            forge_consumer_read_into(c, small.as_mut_ptr().cast(), 4, &mut len, null_mut()),
            ForgeStatus::BufferTooSmall
        );
        assert_eq!(
            forge_consumer_read_into(c, big.as_mut_ptr().cast(), 64, &mut len, &mut position),
            ForgeStatus::Ok
        );
        assert_eq!((&big[..len], position), (&[0u8; 8][..], 2));
        assert_eq!(
            forge_producer_wait(p, 1000),
            ForgeStatus::Ok,
            "a slot came back"
        );

        let mut info: ForgeEndpointInfo = std::mem::zeroed();
        forge_producer_info(p, &mut info);
        assert_eq!(
            (info.role, info.position, info.slot_count),
            (ForgeRole::Producer, 6, 4)
        );
        forge_consumer_info(c, &mut info);
        assert_eq!(
            (info.role, info.position, info.messages),
            (ForgeRole::Consumer, 3, 3)
        );
        assert_eq!(forge_producer_check(p), ForgeStatus::Ok);
        assert_eq!(forge_consumer_check(c), ForgeStatus::Ok);

        forge_producer_drop(p);
        forge_consumer_drop(c);
        forge_segment_drop(segment);
    }
}

#[test]
fn out_of_order_calls_are_wrong_state_not_undefined() {
    let name = Name::new();
    let segment = create(&name, 4);
    let p = producer(segment, null());
    let c = consumer(segment, null());
    // SAFETY: valid pointers and live handles throughout.
    unsafe {
        assert_eq!(
            forge_producer_commit(p, 1, 0, null_mut()),
            ForgeStatus::WrongState
        );
        assert!(
            last_message().contains("claim one first"),
            "{}",
            last_message()
        );
        assert_eq!(forge_consumer_release(c), ForgeStatus::WrongState);
        assert!(
            last_message().contains("read one first"),
            "{}",
            last_message()
        );

        // A push after a claim takes the claimed slot: the claim is gone.
        let mut slot: ForgeWriteSlot = std::mem::zeroed();
        forge_producer_claim(p, &mut slot);
        forge_producer_push(p, b"a".as_ptr().cast(), 1, null_mut());
        assert_eq!(
            forge_producer_commit(p, 1, 0, null_mut()),
            ForgeStatus::WrongState
        );

        // One producer and one consumer per segment.
        let mut second = null_mut();
        assert_eq!(
            forge_producer_new(segment, null(), &mut second),
            ForgeStatus::RoleHeld
        );
        assert!(second.is_null());
        assert!(
            last_message().contains("only one producer"),
            "{}",
            last_message()
        );
        let mut second_c = null_mut();
        assert_eq!(
            forge_consumer_new(segment, null(), &mut second_c),
            ForgeStatus::RoleHeld
        );
        forge_producer_drop(p);
        let p = producer(segment, null());
        forge_producer_drop(p);
        forge_consumer_drop(c);
        forge_segment_drop(segment);
    }
}

/// A handle sent to another thread (one thread at a time uses it).
struct Send<T>(*mut T);
// SAFETY: the handle is used by the receiving thread alone.
unsafe impl<T> std::marker::Send for Send<T> {}

#[test]
fn a_parked_consumer_is_woken_by_the_producer_without_any_other_call() {
    let name = Name::new();
    let segment = create(&name, 8);
    let parks = claim_with(ForgeWaitStrategy::Park, c"parker");
    let c = Send(consumer(segment, &parks));
    let p = producer(segment, null());
    let reader = std::thread::spawn(move || {
        let c = c;
        // SAFETY: this thread alone uses the consumer.
        unsafe {
            // A bound, not a timing claim: the producer's push wakes it.
            let status = forge_consumer_wait(c.0, 10_000);
            let mut frame: ForgeFrame = std::mem::zeroed();
            forge_consumer_read(c.0, &mut frame);
            let got = bytes(&frame);
            forge_consumer_release(c.0);
            forge_consumer_drop(c.0);
            (status, got)
        }
    });
    // Once the consumer sleeps on its futex (the header says so).
    let observer = forge_fabric::Observer::open(name.str(), Duration::ZERO).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !observer.snapshot().unwrap().consumer.sleeping {
        assert!(
            std::time::Instant::now() < deadline,
            "the consumer never parked"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: valid pointers and live handles.
    unsafe {
        assert_eq!(
            forge_producer_push(p, b"wake".as_ptr().cast(), 4, null_mut()),
            ForgeStatus::Ok
        );
    }
    let (status, got) = reader.join().unwrap();
    assert_eq!(status, ForgeStatus::Ok);
    assert_eq!(got, b"wake");
    // SAFETY: live handles, dropped once.
    unsafe {
        forge_producer_drop(p);
        forge_segment_drop(segment);
    }
}

#[test]
fn holders_move_frames_and_a_stop_ends_a_blocking_read_with_exit_0() {
    let name = Name::new();
    let segment = create(&name, 4);
    let program = c"ffi-holder";
    let claim = claim_with(ForgeWaitStrategy::Yield, program);
    // SAFETY: valid pointers and live handles throughout.
    unsafe {
        let mut hp = null_mut();
        let mut hc = null_mut();
        assert_eq!(
            forge_holder_producer_new(name.ptr(), &claim, &mut hp),
            ForgeStatus::Ok
        );
        assert_eq!(
            forge_holder_consumer_new(name.ptr(), &claim, &mut hc),
            ForgeStatus::Ok
        );

        let mut at = 0;
        assert_eq!(
            forge_holder_write(hp, b"first".as_ptr().cast(), 5, &mut at),
            ForgeStatus::Ok
        );
        let mut slot: ForgeWriteSlot = std::mem::zeroed();
        assert_eq!(forge_holder_claim(hp, &mut slot), ForgeStatus::Ok);
        let mut len = 0usize;
        assert_eq!(
            forge_frame_encode(
                slot.data,
                slot.capacity,
                slot.position,
                forge_now_ns(),
                9,
                2,
                b"body".as_ptr().cast(),
                4,
                &mut len
            ),
            ForgeStatus::Ok
        );
        assert_eq!(forge_holder_commit(hp, len, 0, &mut at), ForgeStatus::Ok);
        assert_eq!(at, 1);

        let mut frame: ForgeFrame = std::mem::zeroed();
        assert_eq!(forge_holder_read(hc, &mut frame), ForgeStatus::Ok);
        assert_eq!(bytes(&frame), b"first");
        assert_eq!(forge_holder_release(hc), ForgeStatus::Ok);
        assert_eq!(forge_holder_read(hc, &mut frame), ForgeStatus::Ok);
        let mut header: ForgeFrameHeader = std::mem::zeroed();
        assert_eq!(
            forge_frame_check(frame.data, frame.len, &mut header),
            ForgeStatus::Ok
        );
        assert_eq!(
            (
                header.sequence,
                header.source_id,
                header.kind,
                header.format
            ),
            (1, 9, 2, 2)
        );
        assert_eq!(forge_holder_release(hc), ForgeStatus::Ok);

        // Each side's calls belong to its role.
        assert_eq!(forge_holder_read(hp, &mut frame), ForgeStatus::WrongState);
        assert_eq!(
            forge_holder_write(hc, b"x".as_ptr().cast(), 1, null_mut()),
            ForgeStatus::WrongState
        );
        let mut info: ForgeEndpointInfo = std::mem::zeroed();
        forge_holder_info(hc, &mut info);
        assert_eq!(
            (info.role, info.wait, info.position),
            (ForgeRole::Consumer, ForgeWaitStrategy::Yield, 2)
        );
        assert_eq!(forge_holder_wait(hc), ForgeStatus::Empty);
        assert_eq!(forge_holder_check(hc), ForgeStatus::Ok);

        // Nothing more comes; a stop (as SIGTERM would) ends the wait.
        assert_eq!(forge_holder_stop(hc), ForgeStatus::Ok);
        let status = forge_holder_read(hc, &mut frame);
        assert_eq!(status, ForgeStatus::Stopped);
        assert_eq!(forge_holder_exit_code(status as i32), 0);
        assert_eq!(forge_holder_finish(c"test".as_ptr(), status as i32), 0);

        forge_holder_drop(hp);
        forge_holder_drop(hc);
        forge_segment_drop(segment);
    }
}

#[test]
fn a_holder_for_a_missing_segment_fails_with_exit_code_1_and_says_why() {
    let name = Name::new();
    let mut h = null_mut();
    // SAFETY: valid pointers.
    let status = unsafe { forge_holder_consumer_new(name.ptr(), null(), &mut h) };
    assert_eq!(status, ForgeStatus::Missing);
    assert!(h.is_null());
    assert!(
        last_message().contains("cannot open the segment"),
        "{}",
        last_message()
    );
    assert_eq!(forge_holder_exit_code(status as i32), 1);
    // SAFETY: a NUL-terminated program name.
    let code = unsafe { forge_holder_finish(c"test".as_ptr(), status as i32) };
    assert_eq!(code, 1);
}

#[test]
fn the_observer_sees_both_sides_their_programs_and_whether_they_live() {
    let name = Name::new();
    let segment = create(&name, 8);
    let p = producer(
        segment,
        &claim_with(ForgeWaitStrategy::Spin, c"obs-producer"),
    );
    let c = consumer(
        segment,
        &claim_with(ForgeWaitStrategy::Park, c"obs-consumer"),
    );
    // SAFETY: valid pointers and live handles throughout.
    unsafe {
        for _ in 0..3 {
            forge_producer_push(p, b"frame".as_ptr().cast(), 5, null_mut());
        }
        let mut frame: ForgeFrame = std::mem::zeroed();
        forge_consumer_read(c, &mut frame);
        forge_consumer_release(c);

        let mut o = null_mut();
        assert_eq!(forge_observer_open(name.ptr(), 0, &mut o), ForgeStatus::Ok);
        let mut s: ForgeSnapshot = std::mem::zeroed();
        assert_eq!(forge_observer_snapshot(o, &mut s), ForgeStatus::Ok);
        let program = |side: &ForgeSideSnapshot| {
            CStr::from_ptr(side.program.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        assert_eq!((s.head, s.tail, s.in_flight), (3, 1, 2));
        assert_eq!((s.has_newest, s.newest), (true, 2));
        assert_eq!(
            (s.state, s.slot_count, s.problems),
            (ForgeSegmentState::Live, 8, 0)
        );
        let mut info: ForgeSegmentInfo = std::mem::zeroed();
        forge_segment_info(segment, &mut info);
        assert_eq!(s.session, info.session);
        for (side, name, wait) in [
            (&s.producer, "obs-producer", ForgeWaitStrategy::Spin),
            (&s.consumer, "obs-consumer", ForgeWaitStrategy::Park),
        ] {
            assert_eq!(program(side), name);
            assert_eq!(side.liveness, ForgeLiveness::Alive);
            assert_eq!(side.pid, std::process::id());
            assert_eq!(side.wait, wait);
            assert_eq!(side.session, info.session);
        }
        assert_eq!((s.producer.messages, s.consumer.messages), (3, 1));

        forge_producer_drop(p);
        forge_observer_snapshot(o, &mut s);
        assert_eq!(s.producer.liveness, ForgeLiveness::Stopped);
        assert_eq!(s.producer.pid, 0);
        assert_eq!(s.consumer.liveness, ForgeLiveness::Alive);

        forge_consumer_drop(c);
        forge_observer_drop(o);
        forge_segment_drop(segment);
    }
}

#[test]
fn frames_encode_and_check_and_a_changed_byte_fails_the_check() {
    let mut buf = [0u8; 128];
    let mut len = 0usize;
    let body = b"cpu.util 0.42";
    // SAFETY: valid pointers and lengths throughout.
    unsafe {
        assert_eq!(
            forge_frame_encode(
                buf.as_mut_ptr().cast(),
                buf.len(),
                7,
                99,
                3,
                ForgeFrameKind::Metric as u16,
                body.as_ptr().cast(),
                body.len(),
                &mut len
            ),
            ForgeStatus::Ok
        );
        assert_eq!(len, FORGE_FRAME_HEADER_LEN + body.len());
        let mut h: ForgeFrameHeader = std::mem::zeroed();
        assert_eq!(
            forge_frame_check(buf.as_ptr().cast(), len, &mut h),
            ForgeStatus::Ok
        );
        assert_eq!(
            (h.sequence, h.timestamp_ns, h.source_id, h.kind, h.format),
            (7, 99, 3, 1, 2)
        );
        assert_eq!(h.body_len as usize, body.len());
        assert_eq!(
            std::slice::from_raw_parts(h.body.cast::<u8>(), body.len()),
            body
        );

        // Format 2's checksum covers the header's fields as well as the body.
        for at in [0, 8, 16, 20, FORGE_FRAME_HEADER_LEN + 1] {
            let mut bad = buf;
            bad[at] ^= 0x04;
            let status = forge_frame_check(bad.as_ptr().cast(), len, null_mut());
            assert_eq!(status, ForgeStatus::FrameChecksum, "byte {at}");
            assert_eq!(forge_holder_exit_code(status as i32), 4);
        }
        assert!(
            last_message().contains("checksum mismatch"),
            "{}",
            last_message()
        );
        assert_eq!(
            forge_frame_check(buf.as_ptr().cast(), 31, null_mut()),
            ForgeStatus::FrameShort
        );
        assert_eq!(
            forge_frame_check(buf.as_ptr().cast(), len + 1, null_mut()),
            ForgeStatus::FrameLength
        );
        let mut odd = buf;
        odd[22] = 1;
        assert_eq!(
            forge_frame_check(odd.as_ptr().cast(), len, null_mut()),
            ForgeStatus::FrameFormat
        );

        // Too small an output, too large a body, a body inside the output.
        assert_eq!(
            forge_frame_encode(
                buf.as_mut_ptr().cast(),
                40,
                0,
                0,
                0,
                1,
                body.as_ptr().cast(),
                body.len(),
                &mut len
            ),
            ForgeStatus::BufferTooSmall
        );
        let huge = vec![0u8; FORGE_FRAME_MAX_BODY_LEN + 1];
        let mut out = vec![0u8; 8192];
        assert_eq!(
            forge_frame_encode(
                out.as_mut_ptr().cast(),
                out.len(),
                0,
                0,
                0,
                1,
                huge.as_ptr().cast(),
                huge.len(),
                &mut len
            ),
            ForgeStatus::TooLarge
        );
        assert_eq!(
            forge_frame_encode(
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                0,
                0,
                1,
                buf.as_ptr().add(40).cast(),
                8,
                &mut len
            ),
            ForgeStatus::InvalidArgument
        );

        // The zero-copy way: the body first, in place, then its header.
        buf[FORGE_FRAME_HEADER_LEN..FORGE_FRAME_HEADER_LEN + 4].copy_from_slice(b"in p");
        assert_eq!(
            forge_frame_write_header(buf.as_mut_ptr().cast(), buf.len(), 8, 1, 2, 4, 4, &mut len),
            ForgeStatus::Ok
        );
        assert_eq!(
            forge_frame_check(buf.as_ptr().cast(), len, &mut h),
            ForgeStatus::Ok
        );
        assert_eq!((h.sequence, h.kind, h.body_len), (8, 4, 4));
    }
}

#[test]
fn every_status_has_a_message_and_unknown_codes_are_named_so() {
    let mut seen = std::collections::HashSet::new();
    for code in 0..=26 {
        // SAFETY: a static NUL-terminated string.
        let message = unsafe { CStr::from_ptr(forge_status_message(code)) }.to_string_lossy();
        assert_ne!(message, "unknown status", "code {code}");
        assert!(
            seen.insert(message.into_owned()),
            "code {code}'s message is another's"
        );
    }
    for code in [-1, 27, i32::MAX] {
        // SAFETY: as above.
        let message = unsafe { CStr::from_ptr(forge_status_message(code)) };
        assert_eq!(message.to_str().unwrap(), "unknown status");
        assert_eq!(forge_holder_exit_code(code), 1);
    }
}
