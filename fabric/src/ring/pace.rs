//! The producer's pace line, for inspectors.

use super::Producer;
use crate::sync::Ordering;

/// The producer's pace line: what it aims for, for inspectors (LAYOUT.md,
/// `pace.*`). Lent by [`Producer::pace`]; a new holder of the role starts
/// with it cleared.
///
/// # Examples
///
/// ```
/// use forge_fabric::{CreateOptions, Observer, Segment};
///
/// let name = format!("/forge_doc_pace_{}", std::process::id());
/// let segment = Segment::create(&name, &CreateOptions::default())?;
/// let mut producer = segment.producer()?;
/// producer.pace().announce(50_000, 1_000);
/// producer.pace().count_burst();
/// let pace = Observer::open(&name, std::time::Duration::ZERO)?.snapshot()?.pace;
/// assert_eq!((pace.target_rate, pace.burst, pace.bursts), (50_000, 1_000, 1));
/// # drop(producer);
/// segment.unlink()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Pace<'a> {
    producer: &'a mut Producer,
}

impl<'a> Pace<'a> {
    pub(super) fn new(producer: &'a mut Producer) -> Self {
        Pace { producer }
    }

    /// Says that the producer aims for `target_rate` frames per second (0:
    /// as fast as the ring allows) and sends `burst` frames at full speed
    /// per burst asked for (0: it takes no bursts).
    pub fn announce(&mut self, target_rate: u64, burst: u64) {
        if let Some(pace) = self.producer.ring.pace_line() {
            // SYNC: lone values for display, written by this role only.
            pace.target_rate.store(target_rate, Ordering::Relaxed);
            pace.burst.store(burst, Ordering::Relaxed);
        }
    }

    /// Counts one burst taken.
    pub fn count_burst(&mut self) {
        if let Some(pace) = self.producer.ring.pace_line() {
            // Single writer: a load and a store, no read-modify-write.
            let bursts = pace.bursts.load(Ordering::Relaxed);
            pace.bursts.store(bursts.wrapping_add(1), Ordering::Relaxed);
        }
    }
}
