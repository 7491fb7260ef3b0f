//! The relayed producer: bridges and replays write frames that keep the
//! sequence numbers of the ring they come from.

use super::Producer;
use crate::layout::FRAME_RELAYED;
use crate::sync::Ordering;

/// A producer whose frames keep the sequence numbers of the ring they come
/// from: a bridge's `in` side, a replay. Made only by
/// [`crate::Segment::relayed_producer`], which marks the holder `RELAYED` in
/// its line; every frame it commits carries Forge's `RELAYED` flag, which
/// tells readers to check the frame's own sequence for continuity rather
/// than its ring position. It is a [`Producer`] in every other way (it
/// dereferences to one).
#[must_use = "dropping the producer releases the producer role"]
#[derive(Debug)]
pub struct RelayedProducer {
    producer: Producer,
}

impl RelayedProducer {
    /// Marks `producer`'s frames relayed.
    pub(crate) fn new(mut producer: Producer) -> Self {
        producer.set_forge_flags(FRAME_RELAYED);
        RelayedProducer { producer }
    }

    /// Says that the frames committed from now on come from the ring of
    /// session `origin` (0: not known), in the producer line's
    /// `relay_session` (LAYOUT.md). The value stays after the producer
    /// stops, so the next relaying producer can tell whose sequence the
    /// last frame carries.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{Claim, CreateOptions, Segment};
    ///
    /// let name = format!("/forge_doc_relay_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let mut relay = segment.relayed_producer(&Claim::new())?;
    /// relay.set_origin(0x5e55_1011);
    /// relay.write_from(b"from afar")?;
    /// assert_eq!(segment.relay_session(), 0x5e55_1011);
    /// let mut consumer = segment.consumer()?;
    /// let frame = consumer.read_slot()?.expect("one frame");
    /// assert!(frame.relayed());
    /// frame.release();
    /// # drop((relay, consumer));
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_origin(&mut self, origin: u64) {
        // SYNC: read by the next holder of this role after the kernel's lock
        // hand-over, and by observers for display: a lone value.
        self.producer
            .ring
            .producer_line()
            .relay_session
            .store(origin, Ordering::Relaxed);
    }
}

impl std::ops::Deref for RelayedProducer {
    type Target = Producer;
    fn deref(&self) -> &Producer {
        &self.producer
    }
}

impl std::ops::DerefMut for RelayedProducer {
    fn deref_mut(&mut self) -> &mut Producer {
        &mut self.producer
    }
}
