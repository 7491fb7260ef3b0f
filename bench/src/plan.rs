//! How much to measure in each mode, and the context every figure runs in.

use std::time::Duration;

use serde::Serialize;

use crate::harness::{time_repeats, Percentiles, Result, SpinPolicy, Spinner};
use crate::spec::{ChildSpec, Role};

/// The three run lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// Only checks that every figure runs; the numbers mean little.
    Smoke,
    /// Under a minute: the same figures with fewer samples.
    Quick,
    /// The published run: 1,000,000 samples per shared-memory latency figure.
    Full,
}

/// Sample counts. "Per repeat" everywhere; every figure has `repeats` repeats.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub budget: Budget,
    pub repeats: usize,
    /// Round trips per repeat over shared memory (floor, Forge, rtrb, iceoryx2).
    pub rtt_samples: u64,
    /// Round trips per repeat through the kernel (socket pair, pipe).
    pub kernel_rtt_samples: u64,
    /// One-way samples per repeat (Forge, paced).
    pub oneway_samples: u64,
    /// Nanoseconds between two paced frames.
    pub pace_ns: u64,
    /// Frames per throughput repeat, for payloads up to 64 bytes.
    pub tput_frames_small: u64,
    /// Frames per throughput repeat, for larger payloads.
    pub tput_frames_large: u64,
    /// Frames per throughput repeat through the kernel.
    pub kernel_tput_frames: u64,
    /// Bytes copied per memcpy repeat.
    pub memcpy_bytes: u64,
    /// Slots of every ring (Forge, rtrb, iceoryx2 history).
    pub slots: u32,
    /// Commits per `head` store and releases per `tail` store with batching on.
    pub batch: u64,
}

impl Plan {
    pub fn new(budget: Budget, pace_ns: u64) -> Plan {
        let (rtt, krtt, oneway, small, large, ktput, memcpy) = match budget {
            Budget::Smoke => (2_000, 200, 2_000, 20_000, 4_000, 1_000, 64 << 20),
            Budget::Quick => (20_000, 2_000, 20_000, 400_000, 100_000, 10_000, 1 << 30),
            Budget::Full => (
                1_000_000,
                200_000,
                1_000_000,
                4_000_000,
                1_000_000,
                200_000,
                8 << 30,
            ),
        };
        Plan {
            budget,
            repeats: 5,
            rtt_samples: rtt,
            kernel_rtt_samples: krtt,
            oneway_samples: oneway,
            pace_ns,
            tput_frames_small: small,
            tput_frames_large: large,
            kernel_tput_frames: ktput,
            memcpy_bytes: memcpy,
            slots: forge_fabric::DEFAULT_SLOT_COUNT,
            batch: 32,
        }
    }

    /// Frames thrown away before measuring: a tenth of the run, and at least
    /// four laps of the ring so every slot's page is mapped and cached.
    pub fn warmup(&self, samples_per_repeat: u64) -> u64 {
        (samples_per_repeat / 10).max(4 * u64::from(self.slots))
    }

    /// Warm-up for the kernel paths, which have no ring to lap.
    pub fn kernel_warmup(&self, samples_per_repeat: u64) -> u64 {
        (samples_per_repeat / 10).max(200)
    }

    pub fn tput_frames(&self, payload: usize) -> u64 {
        if payload <= 64 {
            self.tput_frames_small
        } else {
            self.tput_frames_large
        }
    }

    /// The longest any one figure may take before its spin loops give up.
    pub fn figure_budget(&self) -> Duration {
        match self.budget {
            Budget::Smoke => Duration::from_secs(20),
            Budget::Quick => Duration::from_secs(30),
            Budget::Full => Duration::from_secs(300),
        }
    }
}

/// [`time_repeats`] with the plan's round-trip warm-up and sample counts,
/// as every shared-memory round trip uses them.
pub fn time_rtt(plan: &Plan, one: impl FnMut(u64) -> Result<()>) -> Result<Vec<Percentiles>> {
    time_repeats(
        plan.warmup(plan.rtt_samples),
        plan.rtt_samples,
        plan.repeats,
        one,
    )
}

/// Where and how the figures run.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub plan: Plan,
    /// The measuring side: this process's main thread.
    pub core_a: u32,
    /// The peer: a child process or a second thread.
    pub core_b: u32,
    pub policy: SpinPolicy,
    /// Payload capacity of the rings Forge figures create: `None` for the
    /// default (4096 bytes), `Some(n)` for a ring made for n-byte frames.
    pub slot_payload: Option<usize>,
}

impl Ctx {
    pub fn spinner(&self, what: &'static str) -> Spinner {
        Spinner::new(self.policy, self.plan.figure_budget(), what)
    }

    pub fn child(&self, role: Role) -> ChildSpec {
        ChildSpec {
            parent: std::process::id(),
            core: self.core_b,
            pair: [self.core_a, self.core_b],
            policy: self.policy,
            budget_ms: self.plan.figure_budget().as_millis() as u64,
            role,
        }
    }

    /// This context for rings made for `payload`-byte frames.
    pub fn sized_for(&self, payload: usize) -> Ctx {
        Ctx {
            slot_payload: Some(payload.next_multiple_of(8)),
            ..self.clone()
        }
    }

    pub fn create_options(&self) -> forge_fabric::CreateOptions {
        forge_fabric::CreateOptions {
            slot_count: self.plan.slots,
            payload_capacity: self.slot_payload.unwrap_or(forge_fabric::PAYLOAD_CAPACITY),
            mode: 0o600,
        }
    }
}
