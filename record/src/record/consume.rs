//! Recording as the ring's consumer: lossless, back-pressuring.

use forge_fabric::clock::monotonic_ns;
use forge_fabric::{Consumer, Observer};
use forge_frame::decode_header;
use forge_holder::checks::{self};
use forge_holder::signals::Control;

use crate::identity::{Mode, SessionIdentity};
use crate::writer::RecordingWriter;

use super::sink::Sink;
use super::*;

/// Records as the ring's consumer until the count, a stop, or the session
/// or file fails. The first frame recorded is the one at the consumer's
/// position (`identity.start_position`). Like forge-core, it adds each
/// frame's transit latency to the segment's histogram; with `observer`, it
/// also samples the ring's counters and that histogram into the file.
pub fn consume(
    consumer: &mut Consumer,
    observer: Option<&Observer>,
    control: &Control,
    writer: &mut RecordingWriter,
    identity: SessionIdentity,
    config: RecordConfig,
) -> (RecordReport, RecordEnd) {
    consumer.set_index_batch(config.release_batch);
    let mut sink = Sink::new(writer, control, config, identity);
    let mut lost_since: Option<u64> = None;
    let end = consume_loop(consumer, observer, &mut sink, &mut lost_since);
    consumer.flush_index();
    if let Some(snap) = observer.and_then(|o| o.snapshot().ok()) {
        let _ = sink.sample(&snap, true);
    }
    let next = consumer.position();
    let report = sink.finish(&end, Mode::Consume, next);
    (report, end)
}

fn consume_loop(
    consumer: &mut Consumer,
    observer: Option<&Observer>,
    sink: &mut Sink<'_>,
    lost_since: &mut Option<u64>,
) -> RecordEnd {
    let mut until_check = CHECK_EVERY;
    if let Some(end) = consume_housekeeping(consumer, observer, sink, monotonic_ns(), lost_since) {
        return end;
    }
    loop {
        if sink.count_reached() {
            return RecordEnd::CountReached;
        }
        match consumer.read_slot() {
            Ok(Some(frame)) => {
                // Released only once written: a failed write leaves the
                // frame in the ring for whoever consumes next.
                if let Err(end) = sink.frame(frame.position(), frame.slot_flags(), &frame) {
                    return end;
                }
                let stamp = decode_header(&frame).ok().map(|h| h.timestamp_ns);
                frame.release();
                if let Some(stamp) = stamp {
                    consumer.record_latency(sink.last_frame_ns.saturating_sub(stamp));
                }
                until_check -= 1;
                if until_check == 0 {
                    until_check = CHECK_EVERY;
                    if let Some(end) =
                        consume_housekeeping(consumer, observer, sink, monotonic_ns(), lost_since)
                    {
                        return end;
                    }
                }
            }
            Ok(None) => {
                let got = consumer.wait_for_frame(WAIT_SLICE);
                let now = monotonic_ns();
                if !got {
                    if let Err(c) = consumer.check_stall() {
                        return RecordEnd::CorruptSlot(c.to_string());
                    }
                }
                if !got || now >= sink.next_housekeeping_ns {
                    if let Some(end) =
                        consume_housekeeping(consumer, observer, sink, now, lost_since)
                    {
                        return end;
                    }
                }
            }
            Err(e) => return RecordEnd::CorruptSlot(e.to_string()),
        }
    }
}

fn consume_housekeeping(
    consumer: &mut Consumer,
    observer: Option<&Observer>,
    sink: &mut Sink<'_>,
    now_ns: u64,
    lost_since: &mut Option<u64>,
) -> Option<RecordEnd> {
    // Records what the producer committed before a loss, for at most
    // DRAIN_WAIT, as forge-core does.
    if let Err(halt) = checks::consumer(sink.control, consumer, now_ns, lost_since) {
        return Some(halt.into());
    }
    if sink.sample_due(now_ns) {
        if let Some(snap) = observer.and_then(|o| o.snapshot().ok()) {
            if let Err(e) = sink.sample(&snap, true) {
                return Some(e);
            }
        }
    }
    sink.file_housekeeping(now_ns).err()
}
