//! Recording as the ring's consumer: lossless, back-pressuring.

use forge_fabric::clock::monotonic_ns;
use forge_fabric::{Consumer, Observer};
use forge_frame::decode_header;
use forge_holder::Holder;

use crate::identity::{Mode, SessionIdentity};
use crate::writer::RecordingWriter;

use super::sink::Sink;
use super::*;

/// Records as the consumer `holder` holds until the count, a stop, or
/// the session or file fails. The first frame recorded is the one at the
/// consumer's position (`identity.start_position`). Like forge-core, it
/// adds each frame's transit latency to the segment's histogram; with
/// `observer`, it also samples the ring's counters and that histogram into
/// the file.
pub fn consume(
    holder: &mut Holder<Consumer>,
    observer: Option<&Observer>,
    writer: &mut RecordingWriter,
    identity: SessionIdentity,
    config: RecordConfig,
) -> (RecordReport, RecordEnd) {
    holder.set_index_batch(config.release_batch);
    let mut sink = Sink::new(writer, config, identity);
    let end = consume_loop(holder, observer, &mut sink);
    holder.flush_index();
    if let Some(snap) = observer.and_then(|o| o.snapshot().ok()) {
        let _ = sink.sample(&snap, true);
    }
    let next = holder.position();
    let report = sink.finish(&end, Mode::Consume, next);
    (report, end)
}

fn consume_loop(
    holder: &mut Holder<Consumer>,
    observer: Option<&Observer>,
    sink: &mut Sink<'_>,
) -> RecordEnd {
    // Records what the producer committed before a loss, for at most the
    // holder's drain wait, as forge-core does.
    if let Err(halt) = holder.check(monotonic_ns()) {
        return halt.into();
    }
    if let Some(end) = sink_housekeeping(observer, sink, monotonic_ns()) {
        return end;
    }
    loop {
        if sink.count_reached() {
            return RecordEnd::CountReached;
        }
        match holder.read_slot() {
            Ok(Some(frame)) => {
                // Released only once written: a failed write leaves the
                // frame in the ring for whoever consumes next.
                if let Err(end) = sink.frame(frame.position(), frame.slot_flags(), &frame) {
                    return end;
                }
                let stamp = decode_header(&frame).ok().map(|h| h.timestamp_ns);
                frame.release();
                if let Some(stamp) = stamp {
                    holder.record_latency(sink.last_frame_ns.saturating_sub(stamp));
                }
                match holder.tick() {
                    Ok(false) => {}
                    Ok(true) => {
                        if let Some(end) = sink_housekeeping(observer, sink, monotonic_ns()) {
                            return end;
                        }
                    }
                    Err(halt) => return halt.into(),
                }
            }
            Ok(None) => {
                // Empty, or stuck behind a damaged slot word? The holder
                // tells, and does its checks.
                if let Err(halt) = holder.wait() {
                    return halt.into();
                }
                let now = monotonic_ns();
                if now >= sink.next_housekeeping_ns {
                    if let Some(end) = sink_housekeeping(observer, sink, now) {
                        return end;
                    }
                }
            }
            Err(e) => return RecordEnd::CorruptSlot(e.to_string()),
        }
    }
}

/// The recorder's own housekeeping, beside the holder's: ring samples into
/// the file, and the file's chunks.
fn sink_housekeeping(
    observer: Option<&Observer>,
    sink: &mut Sink<'_>,
    now_ns: u64,
) -> Option<RecordEnd> {
    if sink.sample_due(now_ns) {
        if let Some(snap) = observer.and_then(|o| o.snapshot().ok()) {
            if let Err(e) = sink.sample(&snap, true) {
                return Some(e);
            }
        }
    }
    sink.file_housekeeping(now_ns).err()
}
