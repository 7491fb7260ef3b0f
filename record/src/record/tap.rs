//! Recording through the read-only observer: never slows the producer,
//! says exactly what it missed.

use std::time::Duration;

use forge_fabric::clock::monotonic_ns;
use forge_fabric::layout::stamp_for;
use forge_fabric::observe::ObserveError;
use forge_fabric::{NameStatus, Observer, SessionError, WaitStrategy};
use forge_fabric::{Position, SegmentState, PAYLOAD_CAPACITY};
use forge_holder::end::Lost;
use forge_holder::signals::Control;

use crate::identity::{Mode, SessionIdentity};
use crate::writer::RecordingWriter;

use super::sink::Sink;
use super::*;

/// How a tap waits when it has caught up with `head`.
fn idle(wait: WaitStrategy) {
    match wait {
        WaitStrategy::Spin => std::hint::spin_loop(),
        WaitStrategy::Yield => std::thread::yield_now(),
        WaitStrategy::Park => std::thread::sleep(Duration::from_micros(200)),
    }
}

/// Is a snapshot's `head` one a ring can have? It is never more than the
/// ring's size past `tail`, nor further behind it than the producer's
/// publish batch (read in that order, `tail` first). Anything else was
/// written by something other than the producer: a tap that believed it
/// would skip ahead or wait for good.
fn head_is_possible(snap: &forge_fabric::Snapshot, slots: u64) -> bool {
    let ahead = Position::new(snap.head).ahead_of(Position::new(snap.tail));
    (-i64::from(snap.producer.batch)..=slots as i64).contains(&ahead)
}

/// Records through a read-only observer from `identity.start_position` on,
/// until the count, a stop, or the segment or file fails. On a stop it
/// first records up to the `head` of that moment.
///
/// Positions wrap at 2^64, so every comparison goes through
/// [`Position`]. A `head` that no ring can have (see [`head_is_possible`])
/// is never followed: the tap waits for the next sane one, says so once,
/// and whatever the producer rewrote meanwhile becomes one missed range.
pub fn tap(
    observer: &Observer,
    control: &Control,
    writer: &mut RecordingWriter,
    identity: SessionIdentity,
    config: RecordConfig,
) -> (RecordReport, RecordEnd) {
    let wait = config.wait;
    let slot_count = identity.slot_count.max(1);
    let slots = u64::from(slot_count);
    let lap_shift = slot_count.trailing_zeros();
    let mut cursor = Position::new(identity.start_position);
    let mut sink = Sink::new(writer, config, identity);
    let mut stopping = false;
    // Since when (and at what head) the indices have been impossible.
    let mut impossible: Option<u64> = None;
    let end = loop {
        let snap = match observer.snapshot() {
            Ok(s) => s,
            Err(ObserveError::Truncated { now, mapped }) => {
                break RecordEnd::SegmentLost(Lost::Truncated { now, mapped })
            }
            Err(e) => break RecordEnd::Observe(e),
        };
        let head = Position::new(snap.head);
        let sane = head_is_possible(&snap, slots);
        if !sane && impossible.is_none() {
            eprintln!(
                "forge-record: head {} is impossible with tail {} on a ring of {slots} slots: \
                 waiting for a sane one (recorded up to position {cursor})",
                snap.head, snap.tail
            );
            impossible = Some(snap.head);
        }
        let mut waiting = !sane;
        if sane {
            // Too far behind to catch up before the producer laps us: skip
            // to half a ring behind head, and count what was skipped as
            // missed, with why.
            let behind = head.since(cursor);
            if behind > slots * 3 / 4 {
                let resume = head.minus(slots / 2);
                let why = if impossible.is_some() {
                    "impossible head"
                } else {
                    "lapped"
                };
                if let Err(e) = sink.miss(cursor.get(), resume.since(cursor), why) {
                    break e;
                }
                cursor = resume;
            }
            if impossible.take().is_some() {
                eprintln!(
                    "forge-record: head {} is sane again: recording from position {cursor}",
                    snap.head
                );
            }
            // Copy up to half a ring in one go (one size check around the
            // lot, not two per slot), then look at head again.
            let count = head.min(cursor.plus(slots / 2)).since(cursor) as u32;
            let start = cursor.slot(slot_count);
            let first_part = count.min(slot_count - start);
            let copies = observer
                .read_slots(start..start + first_part, PAYLOAD_CAPACITY)
                .and_then(|mut a| {
                    a.extend(observer.read_slots(0..count - first_part, PAYLOAD_CAPACITY)?);
                    Ok(a)
                });
            let copies = match copies {
                Ok(c) => c,
                Err(ObserveError::Truncated { now, mapped }) => {
                    break RecordEnd::SegmentLost(Lost::Truncated { now, mapped });
                }
                Err(e) => break RecordEnd::Observe(e),
            };
            let mut failed = None;
            for copy in copies {
                if sink.count_reached() {
                    break;
                }
                let p = cursor.get();
                // A slot that still holds the lap before (or was never
                // written) is not published yet, whatever head says: a head
                // ahead of the frames was not the producer's. Wait for it
                // rather than call it missed.
                if copy.stamp == 0 || copy.stamp == stamp_for(p.wrapping_sub(slots), lap_shift) {
                    waiting = true;
                    break;
                }
                let result = match copy.position {
                    Some(at) if at == p && !copy.torn => sink.frame(p, copy.flags, &copy.bytes),
                    Some(at) if at == p => sink.miss(p, 1, "torn"),
                    // Rewritten for a later lap, or a stamp of no nearby lap.
                    _ => sink.miss(p, 1, "lapped"),
                };
                if let Err(e) = result {
                    failed = Some(e);
                    break;
                }
                cursor = cursor.plus(1);
            }
            if let Some(end) = failed {
                break end;
            }
        }
        if sink.count_reached() {
            break RecordEnd::CountReached;
        }
        // Stopping records up to the head of that moment, if it is sane.
        if stopping && (waiting || !cursor.is_before(head)) {
            break RecordEnd::Stopped;
        }
        let now = monotonic_ns();
        if now >= sink.next_housekeeping_ns {
            if control.stop_requested() {
                // One more pass records up to the head of this moment.
                stopping = true;
            }
            if snap.identity.session_id != sink.session
                || snap.identity.state == SegmentState::Retired
            {
                break RecordEnd::SessionLost(SessionError::Retired {
                    ours: sink.session,
                    successor: snap.identity.successor_session,
                });
            }
            match observer.name_status() {
                NameStatus::Same => {}
                NameStatus::Replaced => break RecordEnd::SegmentLost(Lost::Replaced),
                NameStatus::Unlinked => break RecordEnd::SegmentLost(Lost::Unlinked),
            }
            if let Err(e) = sink.sample(&snap, false) {
                break e;
            }
            if let Err(e) = sink.file_housekeeping(now) {
                break e;
            }
        }
        if (waiting || !cursor.is_before(head)) && !stopping {
            idle(wait);
        }
    };
    // The ring as the recording ends, when it can still be read.
    if let Ok(snap) = observer.snapshot() {
        let _ = sink.sample(&snap, true);
    }
    let report = sink.finish(&end, Mode::Tap, cursor.get());
    (report, end)
}
