//! iceoryx2 publish/subscribe between two processes (behind the `iceoryx2`
//! feature). Zero-copy both ways: the publisher loans a sample in shared
//! memory and writes the frame into it; the subscriber reads it in place.
//! Round trips use the setup of iceoryx2's own publish-subscribe benchmark
//! (a one-sample subscriber buffer, slices sized to the payload, the next
//! sample loaned before waiting); throughput uses a ring-sized buffer with
//! no loss (no safe overflow, the publisher retries until delivered). Every
//! file iceoryx2 creates carries a per-run prefix under a per-run root, so
//! the run removes them all.

use std::process::Stdio;
use std::time::Duration;

use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;

use crate::harness::{
    err, first_word, now_ns, rate_repeats, set_first_word, touch, touched_buffer, Percentiles,
    Rate, Result, Spinner,
};
use crate::plan::{time_rtt, Ctx};
use crate::proc::{cleanup_ice_files, ice_prefix, ice_root_dir, ChildProc};

type Pub = Publisher<ipc::Service, [u8], ()>;
type Sub = Subscriber<ipc::Service, [u8], ()>;
type Loan =
    iceoryx2::sample_mut_uninit::SampleMutUninit<ipc::Service, [std::mem::MaybeUninit<u8>], ()>;

/// How a service is set up.
#[derive(Debug, Clone, Copy)]
enum Qos {
    /// One sample in flight: a subscriber buffer of 1, overflow allowed.
    Latency,
    /// A ring-sized subscriber buffer, no loss.
    Throughput,
}

const EXIT_WAIT: Duration = Duration::from_secs(10);

fn node(prefix: &str) -> Result<Node<ipc::Service>> {
    set_log_level(LogLevel::Error);
    let mut config = Config::default();
    config.global.prefix =
        FileName::new(prefix.as_bytes()).map_err(|e| err!("iceoryx2 prefix {prefix}: {e:?}"))?;
    let root = ice_root_dir(prefix);
    config.global.set_root_path(
        &Path::new(root.as_bytes()).map_err(|e| err!("iceoryx2 root {root}: {e:?}"))?,
    );
    NodeBuilder::new()
        .config(&config)
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()
        .map_err(|e| err!("iceoryx2 node: {e:?}"))
}

macro_rules! service {
    ($node:expr, $name:expr, $qos:expr, $slots:expr) => {{
        let name: ServiceName = $name
            .try_into()
            .map_err(|e| err!("iceoryx2 service name {}: {e:?}", $name))?;
        let (buffer, overflow) = match $qos {
            Qos::Latency => (1, true),
            Qos::Throughput => ($slots, false),
        };
        $node
            .service_builder(&name)
            .publish_subscribe::<[u8]>()
            .enable_safe_overflow(overflow)
            .subscriber_max_buffer_size(buffer)
            .history_size(0)
            .max_publishers(1)
            .max_subscribers(1)
            .max_nodes(2)
            .open_or_create()
            .map_err(|e| err!("iceoryx2 service {}: {e:?}", $name))?
    }};
}

fn publisher(node: &Node<ipc::Service>, name: &str, qos: Qos, payload: usize) -> Result<Pub> {
    let slots = forge_fabric::DEFAULT_SLOT_COUNT as usize;
    service!(node, name, qos, slots)
        .publisher_builder()
        .initial_max_slice_len(payload.max(1))
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()
        .map_err(|e| err!("iceoryx2 publisher {name}: {e:?}"))
}

fn subscriber(node: &Node<ipc::Service>, name: &str, qos: Qos) -> Result<Sub> {
    let slots = forge_fabric::DEFAULT_SLOT_COUNT as usize;
    let buffer = match qos {
        Qos::Latency => 1,
        Qos::Throughput => slots,
    };
    service!(node, name, qos, slots)
        .subscriber_builder()
        .buffer_size(buffer)
        .create()
        .map_err(|e| err!("iceoryx2 subscriber {name}: {e:?}"))
}

/// Loans a sample of `len` bytes, spinning while none is free.
#[inline(always)]
fn loan(tx: &Pub, len: usize, spin: &mut Spinner) -> Result<Loan> {
    loop {
        match tx.loan_slice_uninit(len) {
            Ok(sample) => return Ok(sample),
            Err(_) => spin.spin()?,
        }
    }
}

/// Writes `data` into a loaned sample and sends it; true if the subscriber
/// got it.
#[inline(always)]
fn send_loaned(sample: Loan, data: &[u8]) -> Result<bool> {
    let delivered = sample
        .write_from_slice(data)
        .send()
        .map_err(|e| err!("iceoryx2 send: {e:?}"))?;
    Ok(delivered > 0)
}

/// Loans a sample, copies `data` into it and sends it, again until the
/// subscriber has it: with a full subscriber buffer iceoryx2 0.9 can drop
/// a sample (send reports 0 recipients) even without safe overflow.
#[inline(always)]
fn send(tx: &Pub, data: &[u8], spin: &mut Spinner) -> Result<()> {
    while !send_loaned(loan(tx, data.len(), spin)?, data)? {
        spin.spin()?;
    }
    Ok(())
}

/// Calls `f` with the next sample's bytes in place, if there is one.
#[inline(always)]
fn receive<R>(rx: &Sub, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
    match rx.receive().map_err(|e| err!("iceoryx2 receive: {e:?}"))? {
        Some(sample) => Ok(Some(f(sample.payload()))),
        None => Ok(None),
    }
}

fn service_names() -> (String, String) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    // SYNC: a counter for unique names; orders nothing else.
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = format!("forge_bench/{}/{n}", std::process::id());
    (format!("{base}/ping"), format!("{base}/pong"))
}

/// Round trip: publish on `ping`, the child republishes on `pong`.
pub fn rtt(ctx: &Ctx, payload: usize) -> Result<Vec<Percentiles>> {
    let out = rtt_inner(ctx, payload);
    cleanup_ice_files();
    out
}

fn rtt_inner(ctx: &Ctx, payload: usize) -> Result<Vec<Percentiles>> {
    let plan = &ctx.plan;
    let prefix = ice_prefix();
    let (ping, pong) = service_names();
    let node = node(&prefix)?;
    let tx = publisher(&node, &ping, Qos::Latency, payload)?;
    let rx = subscriber(&node, &pong, Qos::Latency)?;
    let role = crate::spec::Role::IceEcho {
        prefix,
        ping,
        pong,
        payload,
    };
    let mut child = ChildProc::spawn(&ctx.child(role), Stdio::null(), Stdio::piped())?;
    child.wait_ready()?;
    let mut spin = ctx.spinner("waiting for an iceoryx2 echo");
    let mut src = touched_buffer(payload, 0xA5);
    handshake(&tx, &rx, &mut src, &mut spin)?;
    let mut next = Some(loan(&tx, payload, &mut spin)?);
    let out = time_rtt(plan, |seq| {
        set_first_word(&mut src, seq);
        let sample = match next.take() {
            Some(s) => s,
            None => loan(&tx, payload, &mut spin)?,
        };
        if !send_loaned(sample, &src)? {
            send(&tx, &src, &mut spin)?;
        }
        // As iceoryx2's own benchmark does: loan the next sample while
        // the echo is on its way.
        next = Some(loan(&tx, payload, &mut spin)?);
        loop {
            match receive(&rx, first_word)? {
                Some(w) if w == seq => return Ok(()),
                // A late answer to the handshake.
                Some(0) => {}
                Some(w) => return Err(err!("echo returned sample {w}, expected {seq}")),
                None => spin.spin()?,
            }
        }
    });
    drop(next);
    let stopped = send(&tx, &[], &mut ctx.spinner("stopping the iceoryx2 echo"));
    let out = out?;
    stopped?;
    child.finish(EXIT_WAIT)?;
    Ok(out)
}

/// Sends sequence 0 until the first echo comes back: a sample published
/// before the other side has connected would be lost.
fn handshake(tx: &Pub, rx: &Sub, src: &mut [u8], spin: &mut Spinner) -> Result<()> {
    set_first_word(src, 0);
    for _ in 0..5000 {
        send(tx, src, spin)?;
        let until = now_ns() + 1_000_000;
        while now_ns() < until {
            if receive(rx, first_word)?.is_some() {
                return Ok(());
            }
            spin.spin()?;
        }
    }
    Err(err!("the iceoryx2 echo never answered"))
}

/// Throughput: the child publishes as fast as the subscriber takes them;
/// this side reads every byte in place.
pub fn rate(ctx: &Ctx, payload: usize) -> Result<Vec<Rate>> {
    let out = rate_inner(ctx, payload);
    cleanup_ice_files();
    out
}

fn rate_inner(ctx: &Ctx, payload: usize) -> Result<Vec<Rate>> {
    let plan = &ctx.plan;
    let prefix = ice_prefix();
    let (ring, _) = service_names();
    let node = node(&prefix)?;
    let rx = subscriber(&node, &ring, Qos::Throughput)?;
    let frames = plan.tput_frames(payload);
    let warmup = plan.warmup(frames);
    let role = crate::spec::Role::IceFlood {
        prefix,
        ring,
        payload,
        frames: warmup + frames * plan.repeats as u64,
    };
    // Its stdin stays open until we have read every sample: the samples
    // live in the publisher's memory and go when it exits.
    let mut child = ChildProc::spawn(&ctx.child(role), Stdio::piped(), Stdio::piped())?;
    child.wait_ready()?;
    let mut spin = ctx.spinner("waiting for an iceoryx2 sample");
    let mut sink = 0u64;
    let out = rate_repeats(
        payload,
        warmup,
        frames,
        plan.repeats,
        #[inline(always)]
        || loop {
            if let Some(sum) = receive(&rx, touch)? {
                sink = sink.wrapping_add(sum);
                return Ok(());
            }
            spin.spin()?;
        },
    );
    std::hint::black_box(sink);
    let out = out?;
    child.finish(EXIT_WAIT)?;
    Ok(out)
}

/// Child: subscriber of `ping`, publisher of `pong`, until an empty sample.
/// The reply sample is loaned before the ping arrives.
pub fn child_echo(
    prefix: &str,
    ping: &str,
    pong: &str,
    payload: usize,
    spin: &mut Spinner,
) -> Result<()> {
    let node = node(prefix)?;
    let rx = subscriber(&node, ping, Qos::Latency)?;
    let tx = publisher(&node, pong, Qos::Latency, payload)?;
    crate::spec::ready()?;
    let mut next = loan(&tx, payload, spin)?;
    loop {
        let Some(sample) = rx.receive().map_err(|e| err!("iceoryx2 receive: {e:?}"))? else {
            spin.spin()?;
            continue;
        };
        let data = sample.payload();
        if data.is_empty() {
            return Ok(());
        }
        if data.len() == payload {
            if !send_loaned(next, data)? {
                send(&tx, data, spin)?;
            }
        } else {
            drop(next);
            send(&tx, data, spin)?;
        }
        drop(sample);
        next = loan(&tx, payload, spin)?;
    }
}

/// Child: publisher of `ring`, `frames` samples at full speed.
pub fn child_flood(
    prefix: &str,
    ring: &str,
    payload: usize,
    frames: u64,
    spin: &mut Spinner,
) -> Result<()> {
    let node = node(prefix)?;
    let tx = publisher(&node, ring, Qos::Throughput, payload)?;
    crate::spec::ready()?;
    // The subscriber exists before we start, so the first send connects.
    let mut src = touched_buffer(payload, 0x5A);
    for i in 0..frames {
        set_first_word(&mut src, i);
        send(&tx, &src, spin)?;
    }
    // Samples live in this publisher's memory: stay until the parent has
    // read them all and closes our stdin.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    Ok(())
}
