//! The producer side of `in`'s ring: frames written as they came,
//! bytes unchanged, and the ring replaced when the origin's was.

use std::sync::Arc;
use std::time::Duration;

use forge_fabric::clock::monotonic_ns;
use forge_fabric::{Claim, CreateOptions, LiveHolders, RelayedProducer, Segment, WaitStrategy};
use forge_holder::signals::Control;
use forge_holder::Holder;

use crate::daemon::{RingEnd, PROGRAM};

/// Commits per `head` store: the frames themselves are visible at each
/// commit; `head` (for inspectors) is stored at the end of every sample.
pub(super) const PUBLISH_BATCH: u64 = 64;
/// How long a ring being replaced is left to its reader to drain.
const DRAIN_BEFORE_REPLACE: Duration = Duration::from_secs(2);

/// The producer role's claim: how it waits, where it runs.
pub(super) fn claim(core: Option<u32>, wait: WaitStrategy) -> Claim {
    let claim = Claim::new().wait(wait).program(PROGRAM);
    match core {
        Some(core) => claim.pinned_core(core),
        None => claim,
    }
}

/// The producer side of the local ring.
pub(super) struct Writer {
    pub(super) segment: Arc<Segment>,
    /// `None` once the run ended.
    pub(super) producer: Option<Holder<RelayedProducer>>,
    pub(super) wait: WaitStrategy,
    pub(super) control: Control,
    /// What the producer line's `relay_session` holds.
    pub(super) relay_session: u64,
    pub(super) core: Option<u32>,
    /// With --init: how to replace the ring when the origin is re-initialized.
    pub(super) replace: Option<CreateOptions>,
}

impl Writer {
    /// Writes one frame, bytes unchanged, waiting while the ring is full.
    #[inline]
    pub(super) fn write(&mut self, frame: &[u8], origin: u64) -> Result<(), RingEnd> {
        if self.relay_session != origin {
            // Before the frame: a bridge restarted after this commit must
            // find whose sequence it carries. Only ever set on a ring that
            // holds no relayed frame of another origin (a fresh one).
            if let Some(producer) = self.producer.as_mut() {
                producer.set_origin(origin);
            }
            self.relay_session = origin;
        }
        loop {
            let producer = self.producer.as_mut().ok_or(RingEnd::Stopped)?;
            if let Some(mut slot) = producer.write_slot() {
                // The pack bounded the length by the largest payload, but
                // this ring's slots may have been made smaller.
                let Some(dest) = slot.payload_mut().get_mut(..frame.len()) else {
                    return Err(RingEnd::Failed(format!(
                        "a frame of {} bytes came, and this ring's slots hold {}; {}",
                        frame.len(),
                        producer.payload_capacity(),
                        forge_cli::larger_slots_hint(self.segment.name(), frame.len())
                    )));
                };
                dest.copy_from_slice(frame);
                slot.commit(frame.len())
                    .map_err(|e| RingEnd::Failed(e.to_string()))?;
                return Ok(());
            }
            // The holder waits one slice, and does its checks when due;
            // the loop claims again either way.
            producer.wait()?;
        }
    }

    /// Stores `head` for inspectors (the end of a sample).
    #[inline]
    pub(super) fn publish(&mut self) {
        if let Some(p) = self.producer.as_mut() {
            p.flush_index();
        }
    }

    /// The holder's checks (stop, the session, the reader's index, the
    /// watch thread's verdict, the heartbeat), and `head` for inspectors.
    pub(super) fn housekeeping(&mut self) -> Result<(), RingEnd> {
        let producer = self.producer.as_mut().ok_or(RingEnd::Stopped)?;
        producer.check(monotonic_ns())?;
        producer.flush_index();
        Ok(())
    }

    /// Replaces the ring with a fresh one of the same size, after leaving
    /// its reader a moment to drain it: the reader then ends with exit 3,
    /// as readers of the origin ring did.
    pub(super) fn replace_segment(&mut self) -> Result<(), RingEnd> {
        let name = self.segment.name().to_owned();
        let deadline = std::time::Instant::now() + DRAIN_BEFORE_REPLACE;
        while std::time::Instant::now() < deadline {
            // A tail at head means everything was read.
            let (head, tail) = self.segment.indices();
            let done = tail >= head;
            if done || self.control.stop_requested() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut opts = self.replace.clone().expect("only called with --init");
        opts.slot_count = self.segment.slot_count();
        self.producer = None;
        let (segment, _) = Segment::replace(&name, &opts, LiveHolders::Retire)
            .map_err(|e| RingEnd::Failed(format!("cannot replace {name}: {e}")))?;
        let segment = Arc::new(segment);
        let claim = claim(self.core, self.wait);
        let mut producer =
            Holder::<RelayedProducer>::take(segment.clone(), &claim, self.control.clone())
                .map_err(|e| RingEnd::Failed(format!("cannot write into the new {name}: {e}")))?;
        producer.set_index_batch(PUBLISH_BATCH);
        eprintln!(
            "{PROGRAM} in: replaced {name}: new session {}; its readers end with exit 3 and restart on the new one",
            forge_cli::human::session(segment.session_id())
        );
        self.segment = segment;
        self.producer = Some(producer);
        self.relay_session = 0;
        Ok(())
    }
}
