//! A stand-in for the demo daemons while developing forge-top: creates a
//! segment, then a producer thread writes telemetry frames at a rate and a
//! consumer thread reads them (slower, so the ring fills), recording latency.
//!
//! `cargo run --example feeder -- /forge_dev 20000 15000`
use std::time::{Duration, Instant};

use forge_fabric::{Claim, CreateOptions, LiveHolders, Segment};
use forge_frame::{encode, FrameKind};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).cloned().unwrap_or("/forge_dev".into());
    let rate: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let drain: u64 = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(rate);
    let secs: u64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(600);
    let (seg, _) = Segment::replace(&name, &CreateOptions::default(), LiveHolders::Retire).unwrap();
    let mut p = seg.producer_with(&Claim::new().pinned_core(0)).unwrap();
    let mut c = seg.consumer_with(&Claim::new().pinned_core(1)).unwrap();
    let end = Instant::now() + Duration::from_secs(secs);
    let prod = std::thread::spawn(move || {
        let start = Instant::now();
        let mut n = 0u64;
        let mut buf = [0u8; 256];
        while Instant::now() < end {
            let due = start.elapsed().as_secs_f64() * rate as f64;
            while (n as f64) < due {
                let body = format!("cpu.load host=dev value={}", n % 100);
                let len = encode(
                    &mut buf,
                    p.position(),
                    forge_fabric::clock::monotonic_ns(),
                    7,
                    FrameKind::Metric,
                    body.as_bytes(),
                )
                .unwrap();
                if p.write_from(&buf[..len]).is_err() {
                    break;
                }
                n += 1;
            }
            p.heartbeat();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let start = Instant::now();
    let mut n = 0u64;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        let due = start.elapsed().as_secs_f64() * drain as f64;
        while (n as f64) < due {
            match c.read_into(&mut buf) {
                Ok(Some(len)) => {
                    if let Ok(h) = forge_frame::decode_header(&buf[..len]) {
                        c.record_latency(
                            forge_fabric::clock::monotonic_ns().saturating_sub(h.timestamp_ns),
                        );
                    }
                    n += 1;
                }
                _ => break,
            }
        }
        c.flush_index();
        c.heartbeat();
        std::thread::sleep(Duration::from_millis(1));
    }
    prod.join().unwrap();
    seg.unlink().unwrap();
}
