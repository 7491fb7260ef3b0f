//! What fabric copies out of a segment, turned into the model's plain
//! data: the sample, each holder, the latency figures, slot copies and
//! their frames. The live source and the offline readers both use it.

use forge_fabric::hist::Histogram;
use forge_fabric::layout::{bucket_low, HIST_OVERFLOW_NS};
use forge_fabric::observe::HolderCheck;
use forge_fabric::{Role, SlotCopy, SlotState, Snapshot};
use forge_frame::{decode, decode_header, FRAME_HEADER_LEN};

use crate::model::*;

/// What forge-top shows of a snapshot: the header as fabric copied it, the
/// holders as found, latency since start and over the recent window.
pub(crate) fn sample_of(s: Snapshot, holders: [Holder; 2], recent: &Histogram) -> Sample {
    let now = s.taken_mono_ns;
    let [producer, consumer] = holders;
    Sample {
        path: shm_path(&s.name),
        age_ns: now.saturating_sub(s.identity.created_mono_ns),
        producer,
        consumer,
        latency: latency(&s.latency),
        latency_recent: latency(recent),
        violations: s
            .problems()
            .iter()
            .filter(|p| !p.breaks_identity())
            .map(ToString::to_string)
            .collect(),
        newest: s.newest,
        recorded: false,
        header: s,
    }
}

/// What forge-top knows of `role`'s holder: the kernel's lock, whether the
/// pid is proven to be it, and (only then) `/proc`.
pub(crate) fn holder(
    line: &SideSnapshot,
    role: Role,
    check: &HolderCheck,
    proc: Option<ProcInfo>,
    now: u64,
) -> Holder {
    let verified = matches!(check, HolderCheck::Verified { .. });
    Holder {
        role,
        alive: line.lock_held,
        verified,
        holder_note: match check {
            HolderCheck::Verified { .. } | HolderCheck::NotHeld => None,
            other => Some(other.to_string()),
        },
        proc,
        heartbeat_age_ns: line.heartbeat_age(now).map(|d| d.as_nanos() as u64),
        uptime_ns: (line.started_mono_ns != 0).then(|| now.saturating_sub(line.started_mono_ns)),
        // Filled in by the app, which knows the stale threshold.
        liveness: Liveness::Unknown,
    }
}

/// The chart's bin edges, ns.
const BIN_EDGES: [u64; 9] = [
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000, 1_000_000,
];

pub(crate) fn latency(l: &Histogram) -> LatencyStats {
    let mut bins: Vec<LatencyBin> = std::iter::once(0)
        .chain(BIN_EDGES)
        .zip(BIN_EDGES.into_iter().chain(std::iter::once(u64::MAX)))
        .map(|(lo_ns, hi_ns)| LatencyBin {
            lo_ns,
            hi_ns,
            count: 0,
        })
        .collect();
    for (i, &n) in l.buckets.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let low = bucket_low(i);
        let bin = BIN_EDGES.iter().take_while(|&&e| low >= e).count();
        // Counts written by another process: saturate, never overflow.
        bins[bin].count = bins[bin].count.saturating_add(n);
    }
    if let Some(last) = bins.last_mut() {
        last.count = last.count.saturating_add(l.overflow);
    }
    // A quantile past the last bucket is only bounded: given as the bound
    // (never as the maximum, which may be far above the true value).
    let q = |x| {
        if l.past_range(x) {
            Some(HIST_OVERFLOW_NS)
        } else {
            l.quantile(x)
        }
    };
    LatencyStats {
        count: l.count,
        mean_ns: l.mean(),
        p50_ns: q(0.50),
        p90_ns: q(0.90),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        max_ns: l.max_ns,
        overflow: l.overflow,
        range_ns: HIST_OVERFLOW_NS,
        bins,
    }
}

/// Did the producer die holding its role? Then fabric's "it may be writing
/// this slot" is moot: its lock is free, nobody writes.
pub(crate) fn producer_gone(sample: &Sample) -> bool {
    sample.header.producer.lock_held == Some(false)
}

/// A payload decoded as a telemetry frame: its header, and with `whole`
/// (the payload is all there) whether the body checks out; why not, if the
/// header does not decode.
pub(crate) fn frame_info(bytes: &[u8], whole: bool) -> Result<FrameInfo, String> {
    let h = decode_header(bytes).map_err(|e| e.to_string())?;
    let (valid, error) = if whole {
        match decode(bytes) {
            Ok(_) => (true, None),
            Err(e) => (false, Some(e.to_string())),
        }
    } else {
        (false, None)
    };
    let body = bytes.get(FRAME_HEADER_LEN..).unwrap_or(&[]);
    Ok(FrameInfo {
        sequence: h.sequence,
        timestamp_ns: h.timestamp_ns,
        source_id: h.source_id,
        kind: h.kind.to_string(),
        body_len: h.body_len,
        checksum: h.checksum,
        valid,
        error,
        body_preview: body
            .iter()
            .take(64)
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect(),
    })
}

/// A slot copy as forge-top shows it; `gone`: the producer is known dead.
pub(crate) fn slot_view(c: SlotCopy, whole: bool, gone: bool) -> SlotView {
    let mut view = slot_row(&c, whole, gone);
    if whole && !view.torn && c.state != SlotState::Free {
        view.copy.bytes = c.bytes;
    }
    view
}

/// The same as [`slot_view`], decoded from a borrowed copy and keeping no
/// bytes: a row of a copy whose bytes are kept elsewhere.
pub(crate) fn slot_row(c: &SlotCopy, whole: bool, gone: bool) -> SlotView {
    // A copy that changed and whose first slot word names no position the
    // slot can hold now: the producer rewrote it during the copy and then
    // moved head past that lap too (a producer racing to refill a ring a
    // restarted consumer emptied). It was due to write it: no tear to
    // alarm about.
    let lapped_during_copy = c.changed && c.position.is_none() && c.stamp != 0;
    let overwritable = (c.overwritable || lapped_during_copy) && !gone;
    let torn = c.changed || overwritable;
    let mut view = SlotView {
        torn,
        overwritable,
        ..SlotView::of(crate::model::bare(c))
    };
    if torn || c.state == SlotState::Free {
        // A torn copy's bytes are not to be trusted; a free slot holds none.
        return view;
    }
    match frame_info(&c.bytes, whole) {
        Ok(info) => view.frame = Some(info),
        Err(e) => view.frame_error = Some(e),
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(position: Option<u64>, changed: bool, overwritable: bool) -> SlotCopy {
        SlotCopy {
            index: 171,
            position,
            state: if position.is_some() {
                SlotState::Pending
            } else {
                SlotState::Free
            },
            len: 64,
            flags: 0,
            stamp: 7,
            bytes: vec![0; 64],
            changed,
            overwritable,
            torn: changed || overwritable,
        }
    }

    #[test]
    fn issue22_5_a_median_past_the_histogram_is_shown_as_a_bound_not_the_max() {
        let mut h = Histogram::new();
        for _ in 0..56_662 {
            h.record(2_000_000);
        }
        for _ in 0..143_338 {
            h.record(509_000_000);
        }
        let stats = latency(&h);
        assert_eq!(stats.p50_ns, Some(HIST_OVERFLOW_NS));
        assert_eq!(stats.show(stats.p50_ns), ">16.8ms");
        assert_eq!(stats.max_ns, 509_000_000);
        // Within the range nothing changes.
        let mut h = Histogram::new();
        h.record(2_000);
        assert!(!latency(&h).show(latency(&h).p50_ns).starts_with('>'));
    }

    #[test]
    fn issue22_1_a_slot_rewritten_and_lapped_during_its_copy_is_no_torn_read() {
        // The producer refilled the ring past this slot's lap while it was
        // copied: head no longer leads to the stamp forge-top read first.
        let v = slot_row(&copy(None, true, false), true, false);
        assert!(v.torn && v.copy.changed && v.overwritable, "{v:?}");
        // A pending frame that changed under the copy is still news.
        let v = slot_row(&copy(Some(3_000), true, false), true, false);
        assert!(v.copy.changed && !v.overwritable, "{v:?}");
        // A producer known dead writes nothing: a change is news then too.
        let v = slot_row(&copy(None, true, false), true, true);
        assert!(v.copy.changed && !v.overwritable, "{v:?}");
    }
}
