//! Quick two-thread benchmark of the ring over a real shm segment: one-way
//! throughput of 64-byte frames and the round trip over two rings, each side
//! pinned to its own core. Medians of 5 runs with min–max. Not a test.
//!
//! `cargo run --release -p forge-fabric --example ring_quick`

use std::time::{Duration, Instant};

use forge_fabric::{Claim, CreateOptions, LiveHolders, Segment};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

const RUNS: usize = 5;

fn pin(core: usize) {
    let mut set = CpuSet::new();
    if set.set(core).is_ok() {
        let _ = sched_setaffinity(Pid::from_raw(0), &set);
    }
}

fn segment(tag: &str) -> Segment {
    let name = format!("/forge_quick_{tag}_{}", std::process::id());
    let (seg, _) = Segment::replace(&name, &CreateOptions::default(), LiveHolders::Retire)
        .expect("create segment");
    seg.unlink().expect("unlink");
    seg
}

fn throughput(frames: u64, len: usize) -> f64 {
    let seg = segment("tp");
    let mut p = seg.producer_with(&Claim::new().pinned_core(0)).unwrap();
    let mut c = seg.consumer_with(&Claim::new().pinned_core(1)).unwrap();
    let consumer = std::thread::spawn(move || {
        pin(1);
        let mut n = 0;
        while n < frames {
            if let Some(f) = c.read_slot().unwrap() {
                std::hint::black_box(f[0]);
                f.release();
                n += 1;
            } else {
                std::hint::spin_loop();
            }
        }
    });
    pin(0);
    let payload = vec![7u8; len];
    let start = Instant::now();
    let mut sent = 0;
    while sent < frames {
        if p.write_from(&payload).is_ok() {
            sent += 1;
        } else {
            std::hint::spin_loop();
        }
    }
    consumer.join().unwrap();
    frames as f64 / start.elapsed().as_secs_f64()
}

fn round_trip(iterations: u64) -> Duration {
    let (ping, pong) = (segment("ping"), segment("pong"));
    let mut ping_tx = ping.producer_with(&Claim::new().pinned_core(0)).unwrap();
    let mut pong_rx = pong.consumer_with(&Claim::new().pinned_core(0)).unwrap();
    let mut ping_rx = ping.consumer_with(&Claim::new().pinned_core(1)).unwrap();
    let mut pong_tx = pong.producer_with(&Claim::new().pinned_core(1)).unwrap();
    let echo = std::thread::spawn(move || {
        pin(1);
        let mut buf = [0u8; 64];
        for _ in 0..iterations {
            while ping_rx.read_into(&mut buf).unwrap().is_none() {
                std::hint::spin_loop();
            }
            while pong_tx.write_from(&buf).is_err() {
                std::hint::spin_loop();
            }
        }
    });
    pin(0);
    let mut samples = Vec::with_capacity(iterations as usize);
    let mut buf = [0u8; 64];
    for _ in 0..iterations {
        let t = Instant::now();
        ping_tx.write_from(&buf).unwrap();
        while pong_rx.read_into(&mut buf).unwrap().is_none() {
            std::hint::spin_loop();
        }
        samples.push(t.elapsed());
    }
    echo.join().unwrap();
    samples.sort();
    samples[samples.len() / 2]
}

fn median_spread<T: PartialOrd + Copy>(mut v: Vec<T>) -> (T, T, T) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    for len in [64usize, 4096] {
        let runs: Vec<f64> = (0..RUNS).map(|_| throughput(5_000_000, len)).collect();
        let (m, lo, hi) = median_spread(runs);
        println!(
            "throughput {len:>4} B: median {:.2} Mframes/s ({:.2} GB/s), min {:.2}, max {:.2}",
            m / 1e6,
            m * len as f64 / 1e9,
            lo / 1e6,
            hi / 1e6
        );
    }
    let runs: Vec<Duration> = (0..RUNS).map(|_| round_trip(200_000)).collect();
    let (m, lo, hi) = median_spread(runs);
    println!("round trip 64 B: median of per-run medians {m:?} (min {lo:?}, max {hi:?})");
}
