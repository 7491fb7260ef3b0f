//! forge-bench: Forge against the hardware floor and its peers, in one run
//! on two pinned cores, so the ratios hold on a noisy machine.
//!
//! ```text
//!   core A (this process, main thread)        core B (child process or thread)
//!   ─────────────────────────────────         ────────────────────────────────
//!   floor:  store line 1, spin on line 2  ⇄   spin on line 1, store line 2
//!   Forge:  producer of ping, consumer of pong ⇄ echo (`--child`, real segment)
//!   peers:  rtrb, iceoryx2, socket pair, pipes, the same shapes
//! ```
//!
//! Everything it starts is bounded in time; children die with it (parent
//! death signal), segments are unlinked as soon as both sides map them.
#![deny(unsafe_code)]

mod checks;
mod child;
mod figures;
mod floor;
mod forge;
mod harness;
#[cfg(feature = "iceoryx2")]
mod ice;
mod kernel;
mod machine;
mod memcpy;
mod plan;
mod plot;
mod probe;
mod proc;
mod report;
mod rtrb_peer;
mod runner;
mod spec;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use forge_cli::output::{Dir, Output};

use figures::{LatencyKind, ReadMode, System};
use harness::{err, Result, SpinPolicy};
use plan::{Budget, Ctx, Plan};
use report::Report;
use runner::Runner;

/// Measures Forge against the hardware floor and its peers on two pinned
/// cores: round trip, one-way latency and throughput, as a Markdown table
/// (or JSON) with the ratios that matter, plus SVG plots.
#[derive(Debug, Parser)]
#[command(name = "forge-bench", version)]
struct Args {
    /// Under a minute: every figure, fewer samples (for CI smoke runs).
    #[arg(long, conflicts_with = "smoke")]
    quick: bool,
    /// Even smaller than --quick: only checks that every figure runs.
    #[arg(long)]
    smoke: bool,
    /// Directory for results.md, results.json, latency.svg, throughput.svg
    /// (and slots.svg with the ring-size sweep). Results already there are
    /// refused before anything runs, unless --force.
    #[arg(long, default_value = "forge-bench-out")]
    out: PathBuf,
    /// Replace the results already in --out (a symbolic link there is
    /// itself replaced, never followed).
    #[arg(long)]
    force: bool,
    /// Print JSON on stdout instead of the Markdown table.
    #[arg(long)]
    json: bool,
    /// The two cores: the measuring side first, then the peer.
    #[arg(long, value_delimiter = ',', num_args = 1)]
    cores: Option<Vec<u32>>,
    /// How waiting sides spin (the floor is measured both ways regardless).
    #[arg(long, value_enum, default_value_t = SpinPolicy::Pause)]
    spin: SpinPolicy,
    /// Only these groups, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Option<Vec<Group>>,
    /// Payload sizes in bytes, from 8, 64, 1024 and 4096.
    #[arg(long, value_delimiter = ',', default_values_t = [8usize, 64, 1024, 4096])]
    payloads: Vec<usize>,
    /// Also run the ring-size sweep (group `slots`, which is not in the
    /// default set: it adds a minute or more).
    #[arg(long)]
    sweep: bool,
    /// Ring sizes (slots, powers of two) of the ring-size sweep: Forge's
    /// throughput and round trip at 8 B, 64 B and 4 KiB for each.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_SWEEP)]
    slots: Vec<u32>,
    /// Nanoseconds between two frames of the paced one-way run.
    #[arg(long, default_value_t = 2000)]
    pace_ns: u64,
    /// Internal: run as the peer process of a figure.
    #[arg(long, hide = true)]
    child: Option<String>,
}

/// Groups of figures, for `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Group {
    /// memcpy bandwidth of one core.
    Memcpy,
    /// Two-line ping-pong, with and without pause.
    Floor,
    /// Forge round trips (processes and threads).
    Rtt,
    /// Forge one-way latency, paced.
    Oneway,
    /// Forge throughput.
    Throughput,
    /// rtrb round trip and throughput.
    Rtrb,
    /// iceoryx2 round trip and throughput (needs the iceoryx2 feature).
    Iceoryx2,
    /// Unix socket pair and pipes.
    Kernel,
    /// The slot-layout probe: Forge's slot protocol on plain atomics with
    /// the slot stride as the only variable.
    Probe,
    /// Forge's throughput and round trip by ring size (`--slots`); only
    /// when named here or with `--sweep`.
    Slots,
    /// Forge → Zenoh → Forge against Zenoh's own pub/sub, run by
    /// `forge-bridge bench` (built with `-p forge-bridge`); only when named.
    Bridge,
}

/// Ring sizes of the sweep: 64 to 16384 slots.
const DEFAULT_SWEEP: [u32; 9] = [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
/// Payloads of the sweep: a word, a line, a page.
const SWEEP_PAYLOADS: [usize; 3] = [8, 64, 4096];

const ALLOWED_PAYLOADS: [usize; 4] = [8, 64, 1024, 4096];
/// Forge's slot stride, the next multiple of 64 and of 128.
const PROBE_STRIDES: [usize; 3] = [4104, 4160, 4224];
const PROBE_PAYLOADS: [usize; 2] = [8, 64];

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(spec) = &args.child {
        return child::main(spec);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forge-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn pick_cores(asked: Option<&[u32]>) -> Result<[u32; 2]> {
    let available = forge_holder::pin::available_cores();
    let cores = match asked {
        Some([a, b]) if a != b => [*a, *b],
        Some(other) => {
            return Err(err!(
                "--cores takes two distinct cores, like --cores 0,1; got {other:?}"
            ))
        }
        None if available.len() >= 2 => [available[0], available[1]],
        None => {
            return Err(err!(
                "forge-bench needs two cores to pin its two sides to; this process may run on {available:?} only"
            ))
        }
    };
    for c in cores {
        if !available.contains(&c) {
            return Err(err!(
                "core {c} is not available to this process (available: {available:?})"
            ));
        }
    }
    Ok(cores)
}

#[cfg(feature = "iceoryx2")]
const ICE_MISSING: &str = "the iceoryx2 figure failed; see Notes";
#[cfg(not(feature = "iceoryx2"))]
const ICE_MISSING: &str =
    "this build has no iceoryx2 feature; rebuild with `--features iceoryx2` to measure it";

/// The bridge's figures: `forge-bridge bench`, next to this executable, with
/// the same budget, writing into `OUT/bridge`. Its table goes to stdout.
fn bridge(args: &Args) -> Result<()> {
    let exe = std::env::current_exe().map_err(|e| err!("cannot find forge-bench itself: {e}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| err!("{} has no directory", exe.display()))?;
    let bin = dir.join("forge-bridge");
    if !bin.is_file() {
        return Err(err!(
            "--only bridge needs {} (and forge-stream, forge-core beside it): \
             cargo build --release -p forge-bridge -p forge-demo --bins",
            bin.display()
        ));
    }
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("bench").arg("--out").arg(args.out.join("bridge"));
    if args.quick || args.smoke {
        cmd.arg("--quick");
    }
    if args.json {
        cmd.arg("--json");
    }
    if args.force {
        cmd.arg("--force");
    }
    let status = cmd
        .status()
        .map_err(|e| err!("cannot run {}: {e}", bin.display()))?;
    if !status.success() {
        return Err(err!("forge-bridge bench failed ({status})"));
    }
    Ok(())
}

/// Every file forge-bench may write into `--out`.
const OUTPUTS: [&str; 5] = [
    "results.md",
    "results.json",
    "latency.svg",
    "throughput.svg",
    "slots.svg",
];

/// The `--out` directory, created if missing and opened once; results
/// already in it are refused here, before minutes of measuring, unless
/// `--force`.
fn out_dir(args: &Args) -> Result<Dir> {
    let dir = &args.out;
    std::fs::create_dir_all(dir)
        .map_err(|e| err!("cannot create the output directory {}: {e}", dir.display()))?;
    let dir = Dir::open(dir).map_err(|e| err!("{e}"))?;
    if !args.force {
        if let Some((name, what)) = OUTPUTS
            .iter()
            .find_map(|name| Some((name, dir.what_is(name)?)))
        {
            return Err(err!(
                "{} already exists ({what}); pass --force to replace the results in {}, \
                 or pick another --out",
                dir.path().join(name).display(),
                dir.path().display()
            ));
        }
    }
    Ok(dir)
}

fn run(args: &Args) -> Result<()> {
    let out = out_dir(args)?;
    for p in &args.payloads {
        if !ALLOWED_PAYLOADS.contains(p) {
            return Err(err!(
                "payload {p} is not one of {ALLOWED_PAYLOADS:?} (rtrb is compiled for those sizes)"
            ));
        }
    }
    if args.pace_ns < 100 {
        return Err(err!(
            "--pace-ns {} is too fast to pace anything; use at least 100",
            args.pace_ns
        ));
    }
    let only = args.only.as_deref().unwrap_or(&[]);
    if only.contains(&Group::Bridge) {
        bridge(args)?;
        if only.iter().all(|g| *g == Group::Bridge) {
            return Ok(());
        }
    }
    proc::install_signal_thread()?;
    let cores = pick_cores(args.cores.as_deref())?;
    // The main thread measures on core A; children and peer threads re-pin
    // themselves to core B.
    forge_holder::pin::pin_to(cores[0])?;
    let budget = if args.smoke {
        Budget::Smoke
    } else if args.quick {
        Budget::Quick
    } else {
        Budget::Full
    };
    let ctx = Ctx {
        plan: Plan::new(budget, args.pace_ns),
        core_a: cores[0],
        core_b: cores[1],
        policy: args.spin,
        slot_payload: None,
    };
    let want = |g: Group| args.only.as_ref().is_none_or(|o| o.contains(&g));
    let ice = cfg!(feature = "iceoryx2") && want(Group::Iceoryx2);
    let payloads = &args.payloads;
    let np = payloads.len();
    let total = 2 * usize::from(want(Group::Memcpy))
        + 2 * usize::from(want(Group::Floor))
        + np * (4 * usize::from(want(Group::Rtt))
            + 2 * usize::from(want(Group::Rtrb))
            + usize::from(ice)
            + 2 * usize::from(want(Group::Kernel)))
        + (np * 2 + 1) * usize::from(want(Group::Oneway))
        + PROBE_STRIDES.len() * PROBE_PAYLOADS.len() * usize::from(want(Group::Probe))
        + np * (7 * usize::from(want(Group::Throughput))
            + 2 * usize::from(want(Group::Rtrb))
            + usize::from(want(Group::Throughput) && want(Group::Rtrb))
            + usize::from(ice)
            + 2 * usize::from(want(Group::Kernel)));

    for &n in &args.slots {
        if !n.is_power_of_two()
            || !(forge_fabric::layout::MIN_SLOT_COUNT..=forge_fabric::layout::MAX_SLOT_COUNT)
                .contains(&n)
        {
            return Err(err!(
                "--slots {n}: a ring size is a power of two from {} to {}",
                forge_fabric::layout::MIN_SLOT_COUNT,
                forge_fabric::layout::MAX_SLOT_COUNT
            ));
        }
    }
    let sweep_payloads: Vec<usize> = SWEEP_PAYLOADS
        .into_iter()
        .filter(|p| payloads.contains(p))
        .collect();
    // Not in the default set: only when asked for by name or with --sweep.
    let sweep = args.sweep
        || args
            .only
            .as_ref()
            .is_some_and(|o| o.contains(&Group::Slots));
    let total = total + args.slots.len() * sweep_payloads.len() * usize::from(sweep);
    let mut machine = machine::Machine::probe(cores, args.spin);
    eprintln!(
        "forge-bench: {:?} run, cores {} and {}, {}",
        budget, cores[0], cores[1], machine.build_profile
    );
    let mut r = Runner::new(&ctx, total);
    use LatencyKind::{OneWay, RoundTrip};
    use ReadMode::{Copy, InPlace};
    // Order: each ratio's two sides run close in time (the floor just
    // before the round trips, memcpy just before the largest payload's
    // throughput), and the slow kernel peers (minutes of blocking round
    // trips) last, where their noise cannot push the others apart.
    if want(Group::Floor) {
        r.latency(System::FloorBusy, RoundTrip, 8, None, |c| {
            floor::rtt(c, SpinPolicy::Busy)
        })?;
        r.latency(System::FloorPause, RoundTrip, 8, None, |c| {
            floor::rtt(c, SpinPolicy::Pause)
        })?;
    }
    for &p in payloads {
        if want(Group::Rtt) {
            r.latency(System::ForgeShm, RoundTrip, p, Some(InPlace), |c| {
                forge::shm_rtt(c, p, false)
            })?;
            r.latency(System::ForgeShm, RoundTrip, p, Some(Copy), |c| {
                forge::shm_rtt(c, p, true)
            })?;
            r.latency(System::ForgeShmSized, RoundTrip, p, Some(InPlace), |c| {
                forge::shm_rtt(&c.sized_for(p), p, false)
            })?;
            r.latency(System::ForgeHeap, RoundTrip, p, Some(InPlace), |c| {
                forge::heap_rtt(c, p, false)
            })?;
        }
        if want(Group::Rtrb) {
            r.latency(System::Rtrb, RoundTrip, p, Some(InPlace), |c| {
                rtrb_peer::rtt(c, p, false)
            })?;
            r.latency(System::Rtrb, RoundTrip, p, Some(Copy), |c| {
                rtrb_peer::rtt(c, p, true)
            })?;
        }
        #[cfg(feature = "iceoryx2")]
        if ice {
            r.latency(System::Iceoryx2, RoundTrip, p, Some(InPlace), |c| {
                ice::rtt(c, p)
            })?;
        }
    }
    if want(Group::Probe) {
        for payload in PROBE_PAYLOADS {
            for stride in PROBE_STRIDES {
                r.probe(stride, payload)?;
            }
        }
    }
    if want(Group::Oneway) {
        r.latency(System::FloorPause, OneWay, 8, None, floor::oneway)?;
        for &p in payloads {
            for (read, copy) in [(InPlace, false), (Copy, true)] {
                r.latency(System::ForgeShm, OneWay, p, Some(read), |c| {
                    forge::shm_oneway(c, p, copy)
                })?;
            }
        }
    }
    let largest = payloads.iter().copied().max().unwrap_or(4096);
    for &p in payloads {
        if want(Group::Memcpy) && p == largest {
            r.rate(System::Memcpy, memcpy::BLOCK, None, None, |c| {
                memcpy::bandwidth(c, false)
            })?;
            r.rate(System::MemcpyHot, memcpy::BLOCK, None, None, |c| {
                memcpy::bandwidth(c, true)
            })?;
        }
        if want(Group::Throughput) {
            for (read, copy, batched) in [
                (InPlace, false, false),
                (InPlace, false, true),
                (Copy, true, false),
                (Copy, true, true),
            ] {
                r.rate(System::ForgeShm, p, Some(read), Some(batched), |c| {
                    forge::shm_rate(c, p, copy, batched)
                })?;
            }
            for batched in [false, true] {
                r.rate(
                    System::ForgeShmSized,
                    p,
                    Some(InPlace),
                    Some(batched),
                    |c| forge::shm_rate(&c.sized_for(p), p, false, batched),
                )?;
            }
            r.rate(System::ForgeHeap, p, Some(InPlace), Some(false), |c| {
                forge::heap_rate(c, p, false, false)
            })?;
        }
        if want(Group::Rtrb) {
            r.rate(System::Rtrb, p, Some(InPlace), None, |c| {
                rtrb_peer::rate(c, p, false)
            })?;
            r.rate(System::Rtrb, p, Some(Copy), None, |c| {
                rtrb_peer::rate(c, p, true)
            })?;
        }
        if want(Group::Throughput) && want(Group::Rtrb) {
            r.paired(p)?;
        }
        #[cfg(feature = "iceoryx2")]
        if ice {
            r.rate(System::Iceoryx2, p, Some(InPlace), None, |c| {
                ice::rate(c, p)
            })?;
        }
    }
    if want(Group::Kernel) {
        for &p in payloads {
            r.latency(System::Uds, RoundTrip, p, Some(Copy), |c| {
                kernel::rtt(c, kernel::Kind::Uds, p)
            })?;
            r.latency(System::Pipe, RoundTrip, p, Some(Copy), |c| {
                kernel::rtt(c, kernel::Kind::Pipe, p)
            })?;
            r.rate(System::Uds, p, Some(Copy), None, |c| {
                kernel::rate(c, kernel::Kind::Uds, p)
            })?;
            r.rate(System::Pipe, p, Some(Copy), None, |c| {
                kernel::rate(c, kernel::Kind::Pipe, p)
            })?;
        }
    }
    if sweep {
        for &p in &sweep_payloads {
            for &n in &args.slots {
                r.sweep(n, p)?;
            }
        }
    }
    machine.load_after = machine::load();

    let mut notes = Vec::new();
    if !cfg!(feature = "iceoryx2") {
        notes.push(format!(
            "iceoryx2 was not measured: {ICE_MISSING}, e.g. `cargo run --release -p forge-demo --features iceoryx2 --bin forge-bench`."
        ));
    }
    notes.push(
        "No figure here is asserted by any test; the verdicts compare medians with the targets of issues 5 and 12.".into(),
    );
    let results = r.finish();
    let report = Report {
        tool: "forge-bench",
        checks: checks::checks(&results, &ctx.plan, ICE_MISSING),
        machine,
        plan: ctx.plan.clone(),
        results,
        notes,
    };
    write_outputs(args, &out, &report)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.markdown());
    }
    Ok(())
}

fn write_outputs(args: &Args, dir: &Dir, report: &Report) -> Result<()> {
    let write = |name: &str, text: &str| -> Result<()> {
        dir.write(name, text.as_bytes(), &Output::new().replace(args.force))
            .map_err(|e| err!("cannot write the results: {e}"))
    };
    write("results.md", &report.markdown())?;
    write("results.json", &serde_json::to_string_pretty(report)?)?;
    write("latency.svg", &plot::latency(report, &args.payloads))?;
    write("throughput.svg", &plot::throughput(report, &args.payloads))?;
    let slots = if report.results.sweep.is_empty() {
        ""
    } else {
        write("slots.svg", &plot::slots(report))?;
        " and slots.svg"
    };
    eprintln!(
        "forge-bench: wrote results.md, results.json, latency.svg, throughput.svg{slots} to {}",
        dir.path().display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lap_counts_the_lines_and_pages_its_frames_touch() {
        // Slot i's word is 8 * (i % 8) bytes into a line: the 8th slot's
        // 16 bytes straddle two lines.
        assert_eq!(super::runner::lap_bytes(8, 8), 7 * 64 + 128);
        // Slot 0 spans pages 1-2, slot 1 pages 2-3.
        assert_eq!(super::runner::lap_pages(2, 4096), 3);
        assert_eq!(super::runner::lap_pages(4, 8), 4);
    }
}
