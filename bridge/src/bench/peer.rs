//! `forge-bridge bench-peer`: one side of the raw Zenoh baseline.

use std::sync::mpsc;
use std::time::Duration;

use color_eyre::eyre::{eyre, Result};
use forge_fabric::clock::monotonic_ns;
use forge_fabric::hist::Histogram;
use forge_fabric::PAYLOAD_CAPACITY;
use forge_frame::decode_header;
use forge_frame::load::{LoadGen, SizeSpec};
use forge_holder::exit::Exit;
use forge_holder::signals::Control;
use zenoh::qos::CongestionControl;
use zenoh::Wait;

use super::paths::{LatencyJson, RunJson, RUN_TIMEOUT};
use crate::args::{End, ZenohArgs};

/// `forge-bridge bench-peer`: one side of the raw Zenoh baseline (the
/// bench starts it; not for people).
#[derive(Debug, Clone, clap::Args)]
pub struct PeerArgs {
    /// `pub` or `sub`.
    pub side: String,
    #[arg(long)]
    pub endpoint: String,
    #[arg(long)]
    pub key: String,
    #[arg(long)]
    pub count: u64,
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
}

/// One side of the raw Zenoh baseline.
pub fn peer(args: &PeerArgs, control: Control) -> Result<Exit> {
    // The bridge's own Zenoh settings, from the same function: the raw
    // publisher listens as `out` does, the subscriber connects as `in` does.
    let zenoh = ZenohArgs {
        no_multicast_scouting: true,
        ..ZenohArgs::default()
    };
    let config = match args.side.as_str() {
        "pub" => ZenohArgs {
            listen: vec![args.endpoint.clone()],
            ..zenoh
        }
        .config(End::Out)?,
        "sub" => ZenohArgs {
            connect: vec![args.endpoint.clone()],
            ..zenoh
        }
        .config(End::In)?,
        other => return Err(eyre!("bench-peer {other}: expected pub or sub")),
    };
    let session = zenoh::open(config).wait().map_err(|e| eyre!("{e}"))?;
    let key = args.key.clone();
    if args.side == "pub" {
        let publisher = session
            .declare_publisher(key)
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(|e| eyre!("{e}"))?;
        while !publisher
            .matching_status()
            .wait()
            .map_err(|e| eyre!("{e}"))?
            .matching()
        {
            if control.stop_requested() {
                return Ok(Exit::Ok);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut gen = LoadGen::new(SizeSpec::fixed(args.size), std::process::id(), 1)?;
        let mut buf = Box::new([0u8; PAYLOAD_CAPACITY]);
        let mut pacer =
            (args.rate > 0).then(|| forge_holder::pace::Pacer::new(args.rate, monotonic_ns()));
        for seq in 0..args.count {
            if let Some(p) = &pacer {
                let due = p.due_ns();
                // As forge-stream --wait park paces: sleep, then spin the rest.
                let now = monotonic_ns();
                if due > now + 200_000 {
                    std::thread::sleep(Duration::from_nanos(due - now - 100_000));
                }
                while monotonic_ns() < due {
                    std::hint::spin_loop();
                }
            }
            let len = gen.write_frame(&mut buf[..], seq, monotonic_ns);
            publisher
                .put(buf[..len].to_vec())
                .wait()
                .map_err(|e| eyre!("{e}"))?;
            if let Some(p) = &mut pacer {
                p.sent(monotonic_ns());
            }
        }
        // Let the last batch leave before the session closes.
        std::thread::sleep(Duration::from_millis(500));
    } else {
        let (tx, rx) = mpsc::sync_channel::<RunJson>(1);
        let count = args.count;
        let mut hist = Histogram::default();
        let (mut n, mut first) = (0u64, 0u64);
        let _sub = session
            .declare_subscriber(key)
            .callback_mut(move |sample| {
                let now = monotonic_ns();
                if let Ok(h) = decode_header(&sample.payload().to_bytes()) {
                    hist.record(now.saturating_sub(h.timestamp_ns));
                }
                if n == 0 {
                    first = now;
                }
                n += 1;
                if n == count {
                    let secs = (now - first) as f64 / 1e9;
                    let _ = tx.try_send(RunJson {
                        frames: n,
                        frames_per_s: if secs > 0.0 {
                            (n - 1) as f64 / secs
                        } else {
                            0.0
                        },
                        latency_ns: LatencyJson {
                            p50: hist.quantile(0.50).unwrap_or(0),
                            p99: hist.quantile(0.99).unwrap_or(0),
                        },
                        gaps: 0,
                    });
                }
            })
            .wait()
            .map_err(|e| eyre!("{e}"))?;
        let report = rx
            .recv_timeout(RUN_TIMEOUT)
            .map_err(|_| eyre!("the subscriber did not get {count} frames in {RUN_TIMEOUT:?}"))?;
        println!("{}", serde_json::to_string(&report)?);
    }
    let _ = session.close().wait();
    Ok(Exit::Ok)
}
