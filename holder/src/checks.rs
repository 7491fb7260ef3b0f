//! The checks every role holder runs off its per-frame path (forge-stream,
//! forge-core, forge-record, forge-replay, forge-bridge), in one order, so a
//! stop, a retired session, damage and a lost segment end each of them the
//! same way.

use forge_fabric::{Consumer, Corruption, Producer, SessionError};

use crate::end::Lost;
use crate::signals::Control;
use crate::watch::DRAIN_WAIT;

/// What the checks found that ends a run. Each tool's own end type converts
/// from it (`From`), so the reasons keep one name and one meaning; its exit
/// code is [`crate::Error::exit`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Halt {
    /// SIGINT, SIGTERM or SIGHUP (or [`Control::request_stop`]).
    #[error("a stop was asked for")]
    Stopped,
    /// The segment was retired or replaced under us (`forge-init --force`).
    #[error(transparent)]
    SessionLost(SessionError),
    /// The identity line, `tail` as the producer sees it, or a slot the
    /// consumer is stuck at, was damaged.
    #[error(transparent)]
    Corrupt(Corruption),
    /// The segment was unlinked, replaced without retirement, or truncated
    /// (the watch thread's verdict).
    #[error(transparent)]
    SegmentLost(Lost),
    /// The consumer is stuck: `head` says the frame at its position was
    /// published, and its slot holds another stamp, so no frame will ever
    /// come ([`forge_fabric::Consumer::check_stall`]).
    #[error("the ring is stuck: {0}")]
    Stalled(Corruption),
}

impl From<SessionError> for Halt {
    /// Damage of the identity line is corruption (exit 4); anything else
    /// means the session we joined is gone (exit 3).
    fn from(e: SessionError) -> Halt {
        match e {
            SessionError::Corrupt(c) => Halt::Corrupt(c),
            e => Halt::SessionLost(e),
        }
    }
}

/// A producer's checks: a stop request, the session, `tail` (which must
/// never pass `head` or go back), the watch thread's verdict; then the
/// heartbeat, which says the producer is still looking around.
/// ([`crate::Holder::check`] runs these; a program that holds a
/// [`Producer`] itself may call them directly.)
///
/// # Examples
///
/// ```
/// use forge_holder::{checks, signals::Control, Halt};
///
/// let (mut producer, _consumer) = forge_fabric::heap_ring(2);
/// let control = Control::new();
/// checks::producer(&control, &mut producer)?;
/// control.request_stop();
/// assert_eq!(checks::producer(&control, &mut producer), Err(Halt::Stopped));
/// # Ok::<(), Halt>(())
/// ```
pub fn producer(control: &Control, producer: &mut Producer) -> Result<(), Halt> {
    if control.stop_requested() {
        return Err(Halt::Stopped);
    }
    producer.check_session()?;
    producer.check_tail().map_err(Halt::Corrupt)?;
    if let Some(lost) = control.segment_lost() {
        return Err(Halt::SegmentLost(lost));
    }
    producer.heartbeat();
    Ok(())
}

/// A consumer's checks: a stop request, the session, then the watch
/// thread's verdict, which does not end the run while frames the producer
/// committed before the loss are still there to read, for at most
/// [`DRAIN_WAIT`] from the first pass that saw it (`lost_since_ns`, kept by
/// the caller); then the heartbeat.
///
/// # Examples
///
/// ```
/// use forge_holder::{checks, end::Lost, signals::Control, Halt};
///
/// let (mut producer, mut consumer) = forge_fabric::heap_ring(2);
/// let control = Control::new();
/// let mut lost_since = None;
/// producer.write_from(b"committed before the loss")?;
/// control.set_segment_lost(Lost::Unlinked);
/// // A frame is still there to read: the run goes on to deliver it.
/// checks::consumer(&control, &mut consumer, 0, &mut lost_since)?;
/// consumer.read_with(|_| ())?;
/// assert_eq!(
///     checks::consumer(&control, &mut consumer, 1, &mut lost_since),
///     Err(Halt::SegmentLost(Lost::Unlinked))
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn consumer(
    control: &Control,
    consumer: &mut Consumer,
    now_ns: u64,
    lost_since_ns: &mut Option<u64>,
) -> Result<(), Halt> {
    if control.stop_requested() {
        return Err(Halt::Stopped);
    }
    consumer.check_session()?;
    if let Some(lost) = control.segment_lost() {
        let since = *lost_since_ns.get_or_insert(now_ns);
        let draining = now_ns.saturating_sub(since) < DRAIN_WAIT.as_nanos() as u64;
        if !(draining && consumer.is_ready()) {
            return Err(Halt::SegmentLost(lost));
        }
    }
    consumer.heartbeat();
    Ok(())
}
