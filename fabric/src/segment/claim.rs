//! How a role is claimed: the optional bits of a claim, as a builder.

use crate::layout::{HOLDER_PARKS, HOLDER_RELAYED};
use crate::wait::WaitStrategy;

/// How to take a role ([`crate::Segment::producer_with`],
/// [`crate::Segment::consumer_with`]): how the side waits, and what it says
/// about itself in its line for inspectors. Every part is optional;
/// `Claim::new()` (or `Claim::default()`) spins, records no core, and gives
/// the program name this process was started as.
///
/// # Examples
///
/// ```
/// use forge_fabric::{Claim, CreateOptions, Segment, WaitStrategy};
///
/// let name = format!("/forge_doc_claim_{}", std::process::id());
/// let segment = Segment::create(&name, &CreateOptions::default())?;
/// let claim = Claim::new()
///     .wait(WaitStrategy::Park)
///     .pinned_core(2)
///     .program("my-ingest");
/// let consumer = segment.consumer_with(&claim)?;
/// assert_eq!(consumer.wait_strategy(), WaitStrategy::Park);
/// # drop(consumer);
/// segment.unlink()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a Claim takes nothing until passed to Segment::producer_with or consumer_with"]
pub struct Claim {
    wait: WaitStrategy,
    core: Option<u32>,
    program: String,
    relayed: bool,
}

impl Claim {
    /// A claim that spins, records no core, and gives this process's name.
    pub fn new() -> Self {
        Claim::default()
    }

    /// How the side waits for room or for a frame. Chosen once: the
    /// endpoint's wait calls use it, and the header says it, so the other
    /// side wakes a side that parks without being told (LAYOUT.md,
    /// `HOLDER_PARKS`).
    pub fn wait(mut self, strategy: WaitStrategy) -> Self {
        self.wait = strategy;
        self
    }

    /// Records, for inspectors, the CPU core the holder pinned itself to.
    /// Only a record: pinning is the holder's business (`forge-holder`'s
    /// `pin`).
    pub fn pinned_core(mut self, core: u32) -> Self {
        self.core = Some(core);
        self
    }

    /// The program name inspectors show (at most 16 bytes are kept); empty
    /// takes the name this process was started as.
    pub fn program(mut self, name: impl Into<String>) -> Self {
        self.program = name.into();
        self
    }

    /// The wait strategy asked for.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.wait
    }

    /// The core recorded, if any.
    pub fn core(&self) -> Option<u32> {
        self.core
    }

    /// The program name given (empty: this process's).
    pub fn program_name(&self) -> &str {
        &self.program
    }

    /// The same claim for a relayed producer.
    pub(crate) fn relayed(mut self) -> Self {
        self.relayed = true;
        self
    }

    /// The `HOLDER_*` bits the holder's line gets.
    pub(crate) fn holder_flags(&self) -> u32 {
        let mut flags = 0;
        if self.relayed {
            flags |= HOLDER_RELAYED;
        }
        if self.wait == WaitStrategy::Park {
            flags |= HOLDER_PARKS;
        }
        flags
    }
}
