//! The ring's two ends, taken from a segment: the producer (push, or claim
//! a slot, write it in place and commit it) and the consumer (read a frame
//! in place and release it, or copy it out). The frame and slot lent to C
//! are views, not guards: the consumer's slot stays the reader's until the
//! release, and the producer's slot is published only by the commit.

use std::ffi::{c_char, c_void};

use forge_fabric::{AppFlags, Claim, Consumer, Producer, WaitStrategy};

use crate::args::{self, millis};
use crate::segment::ForgeSegment;
use crate::status::{call, value, Failure, ForgeStatus};

/// How a side waits for room (producer) or for a frame (consumer). Chosen
/// once, when the role is taken (`ForgeClaim.wait`), and written in the
/// header, so the other side wakes a side that parks without being told.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeWaitStrategy {
    /// Busy-spin with the CPU's pause hint: lowest latency, one full core.
    Spin = 0,
    /// Spin briefly, then `sched_yield` between polls.
    Yield = 1,
    /// Spin briefly, then `sched_yield` between polls for about 50 µs, then
    /// sleep on a futex until the other side wakes it.
    Park = 2,
}

impl From<WaitStrategy> for ForgeWaitStrategy {
    fn from(w: WaitStrategy) -> Self {
        match w {
            WaitStrategy::Spin => ForgeWaitStrategy::Spin,
            WaitStrategy::Yield => ForgeWaitStrategy::Yield,
            WaitStrategy::Park => ForgeWaitStrategy::Park,
        }
    }
}

/// Which end of the ring.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeRole {
    /// The writer.
    Producer = 0,
    /// The reader.
    Consumer = 1,
}

/// How to take a role. Start from `forge_claim_default()`; NULL where a
/// claim is asked for means the default.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeClaim {
    /// How the side waits: a `ForgeWaitStrategy` (default
    /// `FORGE_WAIT_STRATEGY_SPIN`).
    pub wait: u32,
    /// The CPU core the program pinned itself to, recorded for inspectors
    /// (pinning is the program's business); -1 (the default) records none.
    pub pinned_core: i32,
    /// The program name inspectors such as forge-top show (at most 16
    /// bytes are kept). NULL or "" (the default) takes this process's name:
    /// the file name of its `argv[0]`, else the kernel's name for it.
    pub program: *const c_char,
}

/// The next free slot, lent to write a frame in place. `data` holds
/// `capacity` bytes; the frame is published only by the commit
/// (`forge_producer_commit`, `forge_holder_commit`), which says its length.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeWriteSlot {
    /// Where to write the frame.
    pub data: *mut c_void,
    /// Bytes `data` holds: the ring's payload capacity.
    pub capacity: usize,
    /// The ring position the frame will have (its sequence number).
    pub position: u64,
}

/// The oldest unread frame, lent in place. `data` stays valid and
/// unchanged until the frame is released (`forge_consumer_release`,
/// `forge_holder_release`): the producer cannot reuse its slot before.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeFrame {
    /// The frame's bytes.
    pub data: *const c_void,
    /// How many.
    pub len: usize,
    /// Its ring position: its sequence number, unless `relayed`.
    pub position: u64,
    /// The application's flags it was committed with (bits 1 to 15).
    pub flags: u16,
    /// Written by a relayed producer (a bridge, a replay): it keeps the
    /// sequence number of the ring it came from.
    pub relayed: bool,
}

/// What an end of the ring is, as the `*_info` functions tell it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeEndpointInfo {
    /// Which end.
    pub role: ForgeRole,
    /// How it waits.
    pub wait: ForgeWaitStrategy,
    /// Producer: the position the next frame will be written at (its
    /// sequence number). Consumer: the position of the next frame to read.
    pub position: u64,
    /// Slots in the ring.
    pub slot_count: u64,
    /// Largest frame, in bytes, the slots hold.
    pub payload_capacity: usize,
    /// The session it joined.
    pub session: u64,
    /// Frames committed (producer) or released (consumer) since the
    /// segment was made.
    pub messages: u64,
}

/// The writing end of a ring: the segment's one producer. Opaque; dropping
/// it (`forge_producer_drop`) releases the role.
#[derive(Debug)]
pub struct ForgeProducer {
    producer: Producer,
    claimed: Option<u64>,
}

/// The reading end of a ring: the segment's one consumer. Opaque; dropping
/// it (`forge_consumer_drop`) releases the role.
#[derive(Debug)]
pub struct ForgeConsumer {
    consumer: Consumer,
    lent: Option<u64>,
}

/// The default claim: spin, no core recorded, this process's name.
#[no_mangle]
pub extern "C" fn forge_claim_default() -> ForgeClaim {
    value(default_claim(), default_claim)
}

fn default_claim() -> ForgeClaim {
    ForgeClaim {
        wait: ForgeWaitStrategy::Spin as u32,
        pinned_core: -1,
        program: std::ptr::null(),
    }
}

/// The claim `p` points to (NULL: the default), checked.
///
/// # Safety
///
/// `p` is NULL or points to a `ForgeClaim` whose `program` is NULL or a
/// NUL-terminated string.
pub(crate) unsafe fn claim(p: *const ForgeClaim) -> Result<Claim, Failure> {
    // SAFETY: NULL or a valid ForgeClaim (the caller's promise); every bit
    // pattern of its fields is a value (the wait is a plain u32).
    let Some(c) = (unsafe { p.as_ref() }) else {
        return Ok(Claim::new());
    };
    let wait = WaitStrategy::try_from(c.wait).map_err(|_| {
        Failure::invalid(format!(
            "wait strategy {}: expected 0 (spin), 1 (yield) or 2 (park)",
            c.wait
        ))
    })?;
    let mut claim = Claim::new().wait(wait);
    match c.pinned_core {
        -1 => {}
        core @ 0.. => claim = claim.pinned_core(core as u32),
        other => {
            return Err(Failure::invalid(format!(
                "pinned core {other}: expected a core number, or -1 for none"
            )))
        }
    }
    if !c.program.is_null() {
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        claim = claim.program(unsafe { args::string(c.program, "claim->program")? });
    }
    Ok(claim)
}

/// Lends the next free slot, or `None` when the ring is full.
pub(crate) fn lend_slot(
    producer: &mut Producer,
    claimed: &mut Option<u64>,
) -> Option<ForgeWriteSlot> {
    let mut slot = producer.write_slot()?;
    let payload = slot.payload_mut();
    let lent = ForgeWriteSlot {
        data: payload.as_mut_ptr().cast(),
        capacity: payload.len(),
        position: slot.position(),
    };
    *claimed = Some(lent.position);
    // Dropping the slot uncommitted publishes nothing: the commit lends
    // the same slot again and publishes it.
    Some(lent)
}

/// Publishes the claimed slot's first `len` bytes with `flags`.
pub(crate) fn commit(
    producer: &mut Producer,
    claimed: &mut Option<u64>,
    len: usize,
    flags: u16,
) -> Result<u64, Failure> {
    let Some(position) = *claimed else {
        return Err(Failure::wrong_state(
            "no slot is claimed: claim one first, write the frame into it, then commit it",
        ));
    };
    let flags = app_flags(flags)?;
    let Some(slot) = producer.write_slot() else {
        *claimed = None;
        return Err(Failure::new(
            ForgeStatus::Corrupt,
            format!("the slot claimed at position {position} is no longer free: the consumer's tail went back"),
        ));
    };
    if slot.position() != position {
        *claimed = None;
        return Err(Failure::wrong_state(format!(
            "the slot claimed at position {position} was written by a push since; claim again"
        )));
    }
    let committed = slot.commit_flagged(len, flags)?;
    *claimed = None;
    Ok(committed)
}

fn app_flags(flags: u16) -> Result<AppFlags, Failure> {
    AppFlags::from_bits(flags).ok_or_else(|| {
        Failure::invalid(format!(
            "flags {flags:#06x} set bit 0, Forge's own RELAYED bit: a frame's flags are bits 1 to 15"
        ))
    })
}

/// Lends the oldest unread frame, or `None` when none is ready.
pub(crate) fn lend_frame(
    consumer: &mut Consumer,
    lent: &mut Option<u64>,
) -> Result<Option<ForgeFrame>, Failure> {
    let Some(slot) = consumer.read_slot()? else {
        return Ok(None);
    };
    let frame = frame_of(&slot);
    *lent = Some(frame.position);
    // Dropping the slot unreleased leaves the frame in place, to be read
    // again and released by `release`.
    Ok(Some(frame))
}

pub(crate) fn frame_of(slot: &forge_fabric::ReadSlot<'_>) -> ForgeFrame {
    ForgeFrame {
        data: slot.as_ptr().cast(),
        len: slot.len(),
        position: slot.position(),
        flags: slot.flags().bits(),
        relayed: slot.relayed(),
    }
}

/// Releases the frame lent last.
pub(crate) fn release(consumer: &mut Consumer, lent: &mut Option<u64>) -> Result<(), Failure> {
    let Some(position) = lent.take() else {
        return Err(Failure::wrong_state(
            "no frame is lent: read one first, then release it",
        ));
    };
    match consumer.read_slot()? {
        Some(slot) if slot.position() == position => {
            slot.release();
            Ok(())
        }
        _ => Err(Failure::wrong_state(format!(
            "the frame read at position {position} was released since"
        ))),
    }
}

fn endpoint_info(
    role: ForgeRole,
    wait: WaitStrategy,
    position: u64,
    slot_count: u64,
    payload_capacity: usize,
    session: u64,
    messages: u64,
) -> ForgeEndpointInfo {
    ForgeEndpointInfo {
        role,
        wait: wait.into(),
        position,
        slot_count,
        payload_capacity,
        session,
        messages,
    }
}

pub(crate) fn producer_info(p: &Producer) -> ForgeEndpointInfo {
    endpoint_info(
        ForgeRole::Producer,
        p.wait_strategy(),
        p.position(),
        p.capacity(),
        p.payload_capacity(),
        p.session(),
        p.messages(),
    )
}

pub(crate) fn consumer_info(c: &Consumer) -> ForgeEndpointInfo {
    endpoint_info(
        ForgeRole::Consumer,
        c.wait_strategy(),
        c.position(),
        c.capacity(),
        c.payload_capacity(),
        c.session(),
        c.messages(),
    )
}

/// Takes the producer role of `segment` as `claim` says (NULL: the
/// default claim). One producer per segment: `FORGE_STATUS_ROLE_HELD` while
/// a live process (this one included) holds it. A producer taken this way
/// does none of a holder's duties (signals, the watch thread, the checks):
/// call `forge_producer_check` off the per-frame path, or use a holder
/// (`forge_holder_producer_new`). On failure `*out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_new(
    segment: *const ForgeSegment,
    claim: *const ForgeClaim,
    out: *mut *mut ForgeProducer,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (out, segment, claim) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            (out, args::handle(segment, "segment")?, self::claim(claim)?)
        };
        let producer = segment.get().producer_with(&claim)?;
        out.set(Box::into_raw(Box::new(ForgeProducer {
            producer,
            claimed: None,
        })));
        Ok(())
    })
}

/// Copies `len` bytes at `data` into the next slot and publishes them as a
/// frame; `*position` (if not NULL) is its ring position. Does not wait:
/// `FORGE_STATUS_FULL` when the ring is full (nothing written),
/// `FORGE_STATUS_TOO_LARGE` when `len` is more than a slot holds. A slot
/// claimed and not committed is given up.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_push(
    producer: *mut ForgeProducer,
    data: *const c_void,
    len: usize,
    position: *mut u64,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (p, data, position) = unsafe {
            (
                args::handle_mut(producer, "producer")?,
                args::bytes(data, len, "data")?,
                args::out_opt(position),
            )
        };
        p.claimed = None;
        let at = p.producer.write_from(data)?;
        if let Some(position) = position {
            position.set(at);
        }
        Ok(())
    })
}

/// Lends the next free slot in `*slot`, to write a frame in place; then
/// `forge_producer_commit` publishes it. Does not wait: `FORGE_STATUS_FULL`
/// when the ring is full. Claiming again before the commit lends the same
/// slot.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_claim(
    producer: *mut ForgeProducer,
    slot: *mut ForgeWriteSlot,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (p, slot) = unsafe {
            (
                args::handle_mut(producer, "producer")?,
                args::out(slot, "slot")?,
            )
        };
        let lent =
            lend_slot(&mut p.producer, &mut p.claimed).ok_or(Failure::quiet(ForgeStatus::Full))?;
        slot.set(lent);
        Ok(())
    })
}

/// Publishes the claimed slot's first `len` bytes as a frame, with the
/// application's `flags` (bits 1 to 15; 0 for none; bit 0 is Forge's and
/// refused). `*position` (if not NULL) is its ring position.
/// `FORGE_STATUS_WRONG_STATE` with no slot claimed; `FORGE_STATUS_TOO_LARGE`
/// (the slot stays claimed) when `len` is more than it holds.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_commit(
    producer: *mut ForgeProducer,
    len: usize,
    flags: u16,
    position: *mut u64,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (p, position) = unsafe {
            (
                args::handle_mut(producer, "producer")?,
                args::out_opt(position),
            )
        };
        let at = commit(&mut p.producer, &mut p.claimed, len, flags)?;
        if let Some(position) = position {
            position.set(at);
        }
        Ok(())
    })
}

/// Waits up to `timeout_ms` for a free slot, with the producer's wait
/// strategy: `FORGE_STATUS_OK` when there is room, `FORGE_STATUS_FULL` when
/// the wait ended first.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_wait(
    producer: *mut ForgeProducer,
    timeout_ms: u32,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let p = unsafe { args::handle_mut(producer, "producer")? };
        Failure::unless(
            p.producer.wait_for_space(millis(timeout_ms)),
            ForgeStatus::Full,
        )
    })
}

/// A producer's duties, for a program that does not use a holder: checks
/// the session (`FORGE_STATUS_SESSION_RETIRED` once the segment was
/// retired) and the consumer's tail (`FORGE_STATUS_CORRUPT` if it cannot be
/// true), then publishes `head` and the counters and beats the heart
/// inspectors watch. Call it off the per-frame path, every few
/// milliseconds.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_check(producer: *mut ForgeProducer) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let p = unsafe { args::handle_mut(producer, "producer")? };
        p.producer.check_session()?;
        p.producer.check_tail()?;
        p.producer.heartbeat();
        Ok(())
    })
}

/// Tells what the producer is: its position (the next frame's sequence
/// number), the ring's geometry, its session and wait strategy.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_info(
    producer: *const ForgeProducer,
    info: *mut ForgeEndpointInfo,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (p, info) = unsafe {
            (
                args::handle(producer, "producer")?,
                args::out(info, "info")?,
            )
        };
        info.set(producer_info(&p.producer));
        Ok(())
    })
}

/// Releases the producer role (inspectors see it stopped) and frees the
/// handle. NULL is allowed.
#[no_mangle]
pub unsafe extern "C" fn forge_producer_drop(producer: *mut ForgeProducer) {
    // SAFETY: a handle from this library, not yet dropped (the contract).
    value((), || unsafe { args::drop_handle(producer) })
}

/// Takes the consumer role of `segment` as `claim` says (NULL: the default
/// claim). One consumer per segment: `FORGE_STATUS_ROLE_HELD` while a live
/// process holds it. Reading starts at the segment's tail. Like
/// `forge_producer_new`, no holder's duties are done for it (see
/// `forge_consumer_check`, or `forge_holder_consumer_new`). On failure
/// `*out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_new(
    segment: *const ForgeSegment,
    claim: *const ForgeClaim,
    out: *mut *mut ForgeConsumer,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (out, segment, claim) = unsafe {
            let out = args::out(out, "out")?;
            out.set(std::ptr::null_mut());
            (out, args::handle(segment, "segment")?, self::claim(claim)?)
        };
        let consumer = segment.get().consumer_with(&claim)?;
        out.set(Box::into_raw(Box::new(ForgeConsumer {
            consumer,
            lent: None,
        })));
        Ok(())
    })
}

/// Lends the oldest unread frame in `*frame`, in place; release it with
/// `forge_consumer_release` when done with its bytes. Does not wait:
/// `FORGE_STATUS_EMPTY` when no frame is ready. Reading again before the
/// release lends the same frame.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_read(
    consumer: *mut ForgeConsumer,
    frame: *mut ForgeFrame,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (c, frame) = unsafe {
            (
                args::handle_mut(consumer, "consumer")?,
                args::out(frame, "frame")?,
            )
        };
        let lent =
            lend_frame(&mut c.consumer, &mut c.lent)?.ok_or(Failure::quiet(ForgeStatus::Empty))?;
        frame.set(lent);
        Ok(())
    })
}

/// Releases the frame read last: its slot goes back to the producer, and
/// its bytes must no longer be used. `FORGE_STATUS_WRONG_STATE` when no
/// frame is lent.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_release(consumer: *mut ForgeConsumer) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let c = unsafe { args::handle_mut(consumer, "consumer")? };
        release(&mut c.consumer, &mut c.lent)
    })
}

/// Copies the oldest unread frame into `buffer` (`capacity` bytes) and
/// releases it; `*len` is its length, `*position` (if not NULL) its ring
/// position. Does not wait: `FORGE_STATUS_EMPTY` when no frame is ready.
/// `FORGE_STATUS_BUFFER_TOO_SMALL` leaves the frame to be read again.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_read_into(
    consumer: *mut ForgeConsumer,
    buffer: *mut c_void,
    capacity: usize,
    len: *mut usize,
    position: *mut u64,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (c, buffer, len, position) = unsafe {
            (
                args::handle_mut(consumer, "consumer")?,
                args::bytes_mut(buffer, capacity, "buffer")?,
                args::out(len, "len")?,
                args::out_opt(position),
            )
        };
        c.lent = None;
        let at = c.consumer.position();
        let n = c
            .consumer
            .read_into(buffer)?
            .ok_or(Failure::quiet(ForgeStatus::Empty))?;
        len.set(n);
        if let Some(position) = position {
            position.set(at);
        }
        Ok(())
    })
}

/// Waits up to `timeout_ms` for a frame, with the consumer's wait
/// strategy: `FORGE_STATUS_OK` when one is ready, `FORGE_STATUS_EMPTY` when
/// the wait ended first.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_wait(
    consumer: *mut ForgeConsumer,
    timeout_ms: u32,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let c = unsafe { args::handle_mut(consumer, "consumer")? };
        Failure::unless(
            c.consumer.wait_for_frame(millis(timeout_ms)),
            ForgeStatus::Empty,
        )
    })
}

/// A consumer's duties, for a program that does not use a holder: checks
/// the session (`FORGE_STATUS_SESSION_RETIRED` once the segment was
/// retired) and that an empty ring is not a stuck one
/// (`FORGE_STATUS_CORRUPT`), then publishes `tail` and the counters and
/// beats the heart inspectors watch. Call it off the per-frame path.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_check(consumer: *mut ForgeConsumer) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or a valid handle.
        let c = unsafe { args::handle_mut(consumer, "consumer")? };
        c.consumer.check_session()?;
        c.consumer.check_stall()?;
        c.consumer.heartbeat();
        Ok(())
    })
}

/// Tells what the consumer is: its position (the next frame to read), the
/// ring's geometry, its session and wait strategy.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_info(
    consumer: *const ForgeConsumer,
    info: *mut ForgeEndpointInfo,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers.
        let (c, info) = unsafe {
            (
                args::handle(consumer, "consumer")?,
                args::out(info, "info")?,
            )
        };
        info.set(consumer_info(&c.consumer));
        Ok(())
    })
}

/// Releases the consumer role and frees the handle. A frame read and not
/// released is read again by the next consumer. NULL is allowed.
#[no_mangle]
pub unsafe extern "C" fn forge_consumer_drop(consumer: *mut ForgeConsumer) {
    // SAFETY: a handle from this library, not yet dropped (the contract).
    value((), || unsafe { args::drop_handle(consumer) })
}
