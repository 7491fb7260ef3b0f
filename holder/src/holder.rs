//! [`Holder`]: one side of a ring, held the way every Forge program holds
//! it.
//!
//! ```text
//!  Holder::producer / consumer / relayed_producer (name, claim)
//!    signals   SIGINT, SIGTERM, SIGHUP -> stop flag; SIGUSR1 -> a flag
//!    open      the segment (waiting while it initializes)
//!    fault     SIGBUS in its mapping -> a message naming it, exit 1
//!    watch     a thread that stats the name: unlinked, replaced, truncated
//!    claim     the role, as the Claim says
//!  per frame   tick(): every CHECK_EVERY frames, the checks
//!  waiting     wait slices of WAIT_SLICE; the checks at least every
//!              HOUSEKEEPING_NS: stop, session, tail or stall, the watch's
//!              verdict, the heartbeat
//!  drop        the role is released (its line says stopped)
//! ```
//!
//! A check that fails ends the run with an [`Error`] whose
//! [`exit`](Error::exit) is the exit-code contract.

use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_fabric::clock::monotonic_ns;
use forge_fabric::{
    Claim, Consumer, Corruption, Producer, ReadSlot, RelayedProducer, Role, RoleError, Segment,
    SegmentError,
};

use crate::checks::{self, Halt};
use crate::end::{CHECK_EVERY, HOUSEKEEPING_NS, WAIT_SLICE};
use crate::error::Error;
use crate::signals::Control;
use crate::watch::Watch;

/// How long [`Holder::open`] waits for a segment still being initialized,
/// or one caught between being retired and replaced by an initializer.
pub const INIT_WAIT: Duration = Duration::from_secs(2);

mod sealed {
    pub trait Sealed {}
    impl Sealed for forge_fabric::Producer {}
    impl Sealed for forge_fabric::RelayedProducer {}
    impl Sealed for forge_fabric::Consumer {}
}

/// A side of a ring a [`Holder`] can hold: [`Producer`],
/// [`RelayedProducer`] or [`Consumer`].
pub trait Side: sealed::Sealed + Sized {
    /// The role it is.
    const ROLE: Role;

    /// Claims it in `segment`.
    fn claim(segment: &Segment, claim: &Claim) -> Result<Self, RoleError>;

    /// The checks of one housekeeping pass (see [`crate::checks`]).
    fn checks(
        &mut self,
        control: &Control,
        now_ns: u64,
        lost_since_ns: &mut Option<u64>,
    ) -> Result<(), Halt>;
}

impl Side for Producer {
    const ROLE: Role = Role::Producer;

    fn claim(segment: &Segment, claim: &Claim) -> Result<Self, RoleError> {
        segment.producer_with(claim)
    }

    fn checks(&mut self, control: &Control, _: u64, _: &mut Option<u64>) -> Result<(), Halt> {
        checks::producer(control, self)
    }
}

impl Side for RelayedProducer {
    const ROLE: Role = Role::Producer;

    fn claim(segment: &Segment, claim: &Claim) -> Result<Self, RoleError> {
        segment.relayed_producer(claim)
    }

    fn checks(&mut self, control: &Control, _: u64, _: &mut Option<u64>) -> Result<(), Halt> {
        checks::producer(control, self)
    }
}

impl Side for Consumer {
    const ROLE: Role = Role::Consumer;

    fn claim(segment: &Segment, claim: &Claim) -> Result<Self, RoleError> {
        segment.consumer_with(claim)
    }

    fn checks(
        &mut self,
        control: &Control,
        now_ns: u64,
        lost_since_ns: &mut Option<u64>,
    ) -> Result<(), Halt> {
        checks::consumer(control, self, now_ns, lost_since_ns)
    }
}

/// A producing side: [`Producer`] or [`RelayedProducer`].
pub trait Writes: Side {
    /// The producer itself.
    fn producer(&mut self) -> &mut Producer;
}

impl Writes for Producer {
    fn producer(&mut self) -> &mut Producer {
        self
    }
}

impl Writes for RelayedProducer {
    fn producer(&mut self) -> &mut Producer {
        self
    }
}

/// One side of a ring, held as a well-behaved holder holds it: the signal
/// flags, the SIGBUS guard, the watch thread, and the checks off the
/// per-frame path (stop, session, `tail` or a stalled slot, a lost segment,
/// the heartbeat). It dereferences to the side (`S`), whose hot path it
/// leaves alone; [`tick`](Self::tick) once per frame and
/// [`wait`](Self::wait) when there is nothing to do keep the duties done,
/// and the blocking calls ([`write_from`](Self::write_from),
/// [`read`](Self::read)) do both. Dropping it releases the role.
///
/// # Examples
///
/// A producer and a consumer of one segment, held in one process. The
/// consumer reads what was written, and a stop (as SIGTERM would ask) ends
/// its wait for more with [`Halt::Stopped`], which exits 0.
///
/// ```
/// use forge_fabric::{Claim, CreateOptions, Segment};
/// use forge_holder::{Error, Exit, Halt, Holder};
///
/// let name = format!("/forge_doc_holder_{}", std::process::id());
/// let segment = Segment::create(&name, &CreateOptions::default())?;
/// let mut producer = Holder::producer(&name, &Claim::new())?;
/// let mut consumer = Holder::consumer(&name, &Claim::new())?;
/// producer.write_from(b"one")?;
/// let frame = consumer.read()?;
/// assert_eq!(&*frame, b"one");
/// frame.release();
/// consumer.control().request_stop();
/// let end = consumer.read().map(|_| ()).unwrap_err();
/// assert!(matches!(end, Error::Halt(Halt::Stopped)));
/// assert_eq!(end.exit(), Exit::Ok);
/// # drop((producer, consumer));
/// segment.unlink()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the holder releases its role"]
#[derive(Debug)]
pub struct Holder<S: Side> {
    side: S,
    /// `None` over a heap ring ([`Holder::on_heap`]).
    segment: Option<Arc<Segment>>,
    /// The segment's watch thread, ended when the holder is dropped.
    watch: Option<Watch>,
    control: Control,
    check_every: u32,
    until_check: u32,
    next_check_ns: u64,
    lost_since_ns: Option<u64>,
}

impl Holder<Producer> {
    /// Holds the producer role of segment `name`: see [`Holder::open`].
    pub fn producer(name: &str, claim: &Claim) -> Result<Self, Error> {
        Self::open(name, claim)
    }
}

impl Holder<RelayedProducer> {
    /// Holds the producer role of segment `name` for relayed frames (a
    /// bridge, a replay): see [`Holder::open`] and
    /// [`Segment::relayed_producer`].
    pub fn relayed_producer(name: &str, claim: &Claim) -> Result<Self, Error> {
        Self::open(name, claim)
    }
}

impl Holder<Consumer> {
    /// Holds the consumer role of segment `name`: see [`Holder::open`].
    pub fn consumer(name: &str, claim: &Claim) -> Result<Self, Error> {
        Self::open(name, claim)
    }
}

impl<S: Side> Holder<S> {
    /// Turns SIGINT, SIGTERM and SIGHUP into a stop this holder sees (and
    /// SIGUSR1 into a flag, [`Control::take_usr1`]), opens segment `name`
    /// (waiting up to [`INIT_WAIT`] while it initializes or is being
    /// replaced), and [`take`](Self::take)s the role. Errors:
    /// [`Error::Signals`], [`Error::Open`], and those of `take`.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{Claim, Consumer, Segment};
    /// use forge_holder::{Error, Holder};
    ///
    /// let name = format!("/forge_doc_holder_open_{}", std::process::id());
    /// // No segment at the name: a typed error, with its exit code (1).
    /// let e = Holder::<Consumer>::open(&name, &Claim::new()).unwrap_err();
    /// assert!(matches!(e, Error::Open(forge_fabric::SegmentError::Missing { .. })));
    /// assert_eq!(e.exit().code(), 1);
    /// ```
    pub fn open(name: &str, claim: &Claim) -> Result<Self, Error> {
        let control = Control::from_signals().map_err(Error::Signals)?;
        let segment = open_segment(name).map_err(Error::Open)?;
        Self::take(Arc::new(segment), claim, control)
    }

    /// Holds `S`'s role of `segment`, opened by the caller, with the flags
    /// of `control` (from [`Control::from_signals`], or [`Control::new`]
    /// for flags only the caller sets): installs the SIGBUS guard for the
    /// segment's mapping ([`Error::Fault`]), starts the watch thread, and
    /// claims the role as `claim` says ([`Error::Role`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use forge_fabric::{Claim, CreateOptions, Producer, Segment};
    /// use forge_holder::{signals::Control, Holder};
    ///
    /// let name = format!("/forge_doc_holder_take_{}", std::process::id());
    /// let segment = Arc::new(Segment::create(&name, &CreateOptions::default())?);
    /// let holder = Holder::<Producer>::take(segment.clone(), &Claim::new(), Control::new())?;
    /// assert_eq!(holder.position(), 0);
    /// # drop(holder);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take(segment: Arc<Segment>, claim: &Claim, control: Control) -> Result<Self, Error> {
        let program = program_name(claim);
        crate::fault::report_sigbus(&program, &segment).map_err(Error::Fault)?;
        let watch = crate::watch::spawn(&program, segment.clone(), S::ROLE, control.clone());
        let side = S::claim(&segment, claim).map_err(Error::Role)?;
        let mut holder = Holder::with_parts(side, Some(segment), control);
        holder.watch = Some(watch);
        Ok(holder)
    }

    /// Holds a side of a heap ring ([`forge_fabric::HeapRing`]): the checks
    /// and the blocking calls without a segment (no session to lose, no
    /// watch thread, no fault guard). For tests, and for a ring between
    /// threads.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::{signals::Control, Holder};
    ///
    /// let (producer, consumer) = forge_fabric::heap_ring(4);
    /// let mut producer = Holder::on_heap(producer, Control::new());
    /// let mut consumer = Holder::on_heap(consumer, Control::new());
    /// producer.write_from(b"x")?;
    /// assert_eq!(consumer.read()?.len(), 1);
    /// # Ok::<(), forge_holder::Error>(())
    /// ```
    pub fn on_heap(side: S, control: Control) -> Self {
        Holder::with_parts(side, None, control)
    }

    fn with_parts(side: S, segment: Option<Arc<Segment>>, control: Control) -> Self {
        Holder {
            side,
            segment,
            watch: None,
            control,
            check_every: CHECK_EVERY,
            until_check: CHECK_EVERY,
            next_check_ns: 0,
            lost_since_ns: None,
        }
    }

    /// The segment held (none over a heap ring).
    pub fn segment(&self) -> Option<&Arc<Segment>> {
        self.segment.as_ref()
    }

    /// The stop and SIGUSR1 flags, and the watch thread's verdict.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Counts a frame; every [`CHECK_EVERY`] frames, runs the checks
    /// ([`check`](Self::check)) and says so (`Ok(true)`: a program's own
    /// housekeeping can ride along). One decrement and a branch otherwise:
    /// call it once per frame.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::{signals::Control, Holder};
    ///
    /// let (producer, _consumer) = forge_fabric::heap_ring(8);
    /// let mut producer = Holder::on_heap(producer, Control::new());
    /// if let Some(mut slot) = producer.write_slot() {
    ///     slot.copy_from(b"in place");
    ///     slot.commit(8)?;
    /// }
    /// producer.tick()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn tick(&mut self) -> Result<bool, Halt> {
        self.until_check -= 1;
        if self.until_check == 0 {
            self.until_check = self.check_every;
            return self.check(monotonic_ns()).map(|()| true);
        }
        Ok(false)
    }

    /// Ticks between two checks while work keeps coming: [`CHECK_EVERY`]
    /// unless told otherwise (at least 1). A program whose unit of work is
    /// heavier than a frame (a bridge's pack of frames) ticks less often,
    /// and checks more often per tick.
    pub fn set_check_every(&mut self, ticks: u32) {
        self.check_every = ticks.max(1);
        self.until_check = self.until_check.min(self.check_every);
    }

    /// Runs the checks now: a stop asked for, the session, `tail` (a
    /// producer) or the watch's verdict after draining what is readable (a
    /// consumer), then the heartbeat. `now_ns` is CLOCK_MONOTONIC; the next
    /// checks fall due [`HOUSEKEEPING_NS`] later.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::clock::monotonic_ns;
    /// use forge_holder::{end::HOUSEKEEPING_NS, signals::Control, Halt, Holder};
    ///
    /// let (producer, _consumer) = forge_fabric::heap_ring(2);
    /// let mut producer = Holder::on_heap(producer, Control::new());
    /// let now = monotonic_ns();
    /// producer.check(now)?;
    /// assert_eq!(producer.next_check_ns(), now + HOUSEKEEPING_NS);
    /// producer.control().request_stop();
    /// producer.check_if_due(now + 1)?; // not due yet: not looked at
    /// assert_eq!(producer.check_if_due(now + HOUSEKEEPING_NS), Err(Halt::Stopped));
    /// # Ok::<(), Halt>(())
    /// ```
    pub fn check(&mut self, now_ns: u64) -> Result<(), Halt> {
        self.next_check_ns = now_ns.saturating_add(HOUSEKEEPING_NS);
        self.side
            .checks(&self.control, now_ns, &mut self.lost_since_ns)
    }

    /// Runs the checks if they are due at `now_ns`.
    pub fn check_if_due(&mut self, now_ns: u64) -> Result<(), Halt> {
        if now_ns >= self.next_check_ns {
            return self.check(now_ns);
        }
        Ok(())
    }

    /// When the next checks are due (CLOCK_MONOTONIC ns), for loops that
    /// wait on something else (a paced frame's due time).
    pub fn next_check_ns(&self) -> u64 {
        self.next_check_ns
    }

    /// The side itself.
    pub fn side(&mut self) -> &mut S {
        &mut self.side
    }
}

impl<S: Writes> Holder<S> {
    /// Waits up to one [`WAIT_SLICE`] for a free slot, with the producer's
    /// wait strategy, and runs the checks when they are due (or when the
    /// slice ended with the ring still full). `Ok(true)` when there is room.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::{signals::Control, Holder};
    ///
    /// let (producer, _consumer) = forge_fabric::heap_ring(2);
    /// let mut producer = Holder::on_heap(producer, Control::new());
    /// assert!(producer.wait()?, "an empty ring has room");
    /// # Ok::<(), forge_holder::Halt>(())
    /// ```
    pub fn wait(&mut self) -> Result<bool, Halt> {
        let got = self.side.producer().wait_for_space(WAIT_SLICE);
        let now = monotonic_ns();
        if !got {
            self.check(now)?;
        } else {
            self.check_if_due(now)?;
        }
        Ok(got)
    }

    /// Copies `data` into the next slot and commits it, waiting while the
    /// ring is full; returns its ring position. Does the holder's duties as
    /// it goes: a stop, a retired session, damage or a lost segment ends
    /// the wait with [`Error::Halt`]; a frame longer than the ring's slots
    /// is [`Error::Write`].
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::{signals::Control, Error, Halt, Holder};
    ///
    /// let (producer, _consumer) = forge_fabric::heap_ring(2);
    /// let mut producer = Holder::on_heap(producer, Control::new());
    /// producer.write_from(b"a")?;
    /// producer.write_from(b"b")?;
    /// // Full, and nobody reads: a stop ends the wait.
    /// producer.control().request_stop();
    /// assert!(matches!(producer.write_from(b"c"), Err(Error::Halt(Halt::Stopped))));
    /// # Ok::<(), forge_holder::Error>(())
    /// ```
    pub fn write_from(&mut self, data: &[u8]) -> Result<u64, Error> {
        self.tick()?;
        loop {
            match self.side.producer().write_from(data) {
                Ok(position) => return Ok(position),
                Err(forge_fabric::WriteError::Full) => {
                    self.wait()?;
                }
                Err(e) => return Err(Error::Write(e)),
            }
        }
    }
}

impl Holder<Consumer> {
    /// Waits up to one [`WAIT_SLICE`] for a frame, with the consumer's wait
    /// strategy; when none came, tells an empty ring from a stuck one
    /// ([`Consumer::check_stall`]: [`Halt::Stalled`]) and runs the checks,
    /// which it also runs when they are due. `Ok(true)` when a frame is
    /// there.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::{signals::Control, Holder};
    ///
    /// let (_producer, consumer) = forge_fabric::heap_ring(2);
    /// let mut consumer = Holder::on_heap(consumer, Control::new());
    /// assert!(!consumer.wait()?, "nothing was written");
    /// # Ok::<(), forge_holder::Halt>(())
    /// ```
    pub fn wait(&mut self) -> Result<bool, Halt> {
        let got = self.side.wait_for_frame(WAIT_SLICE);
        let now = monotonic_ns();
        if !got {
            self.side.check_stall().map_err(Halt::Stalled)?;
            self.check(now)?;
        } else {
            self.check_if_due(now)?;
        }
        Ok(got)
    }

    /// The oldest frame, in place, waiting until one comes; release it with
    /// [`ReadSlot::release`]. Does the holder's duties as it goes: a stop,
    /// a retired session, damage (a stuck slot) or a lost segment (once what
    /// was committed before the loss is read) ends the wait with
    /// [`Error::Halt`]; a slot word claiming more than a slot is
    /// [`Error::Read`].
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_holder::{signals::Control, Holder};
    ///
    /// let (mut producer, consumer) = forge_fabric::heap_ring(2);
    /// let mut consumer = Holder::on_heap(consumer, Control::new());
    /// producer.write_from(b"ping")?;
    /// let frame = consumer.read()?;
    /// assert_eq!((&*frame, frame.position()), (&b"ping"[..], 0));
    /// frame.release();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read(&mut self) -> Result<ReadSlot<'_>, Error> {
        self.tick()?;
        while !self.side.is_ready() {
            self.wait()?;
        }
        let position = self.side.position();
        match self.side.read_slot() {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(Error::Halt(Halt::Corrupt(vanished(position)))),
            Err(e) => Err(Error::Read(e)),
        }
    }
}

/// The frame at `position` was published, then its slot word said
/// otherwise before the consumer read it: only a writer outside the
/// protocol does that.
#[cold]
fn vanished(position: u64) -> Corruption {
    Corruption::Indices {
        head: position.wrapping_add(1),
        tail: position,
        slots: 0,
        what: format!(
            "the frame at position {position} was published, then its slot word changed before it was read"
        ),
    }
}

impl<S: Side> std::ops::Deref for Holder<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.side
    }
}

impl<S: Side> std::ops::DerefMut for Holder<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.side
    }
}

/// Opens `name` read-write for a holder, retrying while it initializes and
/// while it is caught between being retired and unlinked by an initializer
/// replacing it (so a holder started right after a `forge-init --force`
/// attaches to the new session rather than failing on the old one).
pub fn open_segment(name: &str) -> Result<Segment, SegmentError> {
    let start = Instant::now();
    loop {
        match Segment::open(name, INIT_WAIT) {
            Err(SegmentError::Retired { .. }) if start.elapsed() < INIT_WAIT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// The name the holder's messages and line give: the claim's, else this
/// program's.
fn program_name(claim: &Claim) -> String {
    if !claim.program_name().is_empty() {
        return claim.program_name().to_owned();
    }
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "forge".to_owned())
}
