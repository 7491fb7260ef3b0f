//! The steady-state loops make no syscall: over a second of full-speed
//! streaming with the spin wait, neither daemon's streaming thread blocks
//! (its voluntary context switches do not grow), and strace, where
//! installed, sees no system call from it. (Each daemon also has a watch
//! thread that `stat`s the segment's name every 100 ms to notice an
//! unlink; it is off the streaming thread, so it is not traced here.)

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{involuntary_switches, voluntary_switches, Bin, Rig};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// "A handful": the window may catch the tail of start-up or a page fault
/// that blocks on the page cache; the loop itself contributes nothing.
const HANDFUL: u64 = 5;

/// Frames read before the window opens: 20 laps of the default 512-slot
/// ring, so start-up (first touches of the pages, the first wake-ups) is
/// over.
const WARM_UP: u64 = 10_240;

/// Frames that must cross the ring during the measured window for it to
/// count as streaming: a proof of movement, far below any machine's rate.
const STREAMING: u64 = 1_000;

#[test]
fn a_second_of_steady_streaming_makes_no_context_switch_or_syscall() {
    let mut rig = Rig::new("hot_path");
    rig.init(&[]);
    // Default cores: the producer on 1, the consumer on the other one.
    let core = rig.spawn(Bin::Core, &["--wait", "spin", "--verify"]);
    let stream = rig.spawn(Bin::Stream, &["--wait", "spin", "--size", "64"]);
    let pids = [
        ("forge-stream", rig.pid(stream)),
        ("forge-core", rig.pid(core)),
    ];
    // Past start-up: every slot written and read many times over (a count
    // of frames, not a rate: a debug build on a loaded machine moves a few
    // tens of thousands a second, a release build millions).
    rig.wait_for("steady streaming", Duration::from_secs(30), |s| {
        s.tail >= WARM_UP
    });
    // Pinned where the defaults say, and recorded in the header.
    let snap = rig.snapshot();
    let producer_core = forge_holder::pin::default_producer_core().core;
    let consumer_core = forge_holder::pin::default_consumer_core().core;
    assert_eq!(snap.producer.core, Some(producer_core));
    assert_eq!(snap.consumer.core, Some(consumer_core));
    for (who, pid) in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let allowed = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim()
            .to_owned();
        let want = if who == "forge-stream" {
            producer_core
        } else {
            consumer_core
        };
        assert_eq!(allowed, want.to_string(), "{who} is pinned");
    }
    std::thread::sleep(Duration::from_millis(300));

    let before: Vec<(u64, u64)> = pids
        .iter()
        .map(|&(_, pid)| (voluntary_switches(pid), involuntary_switches(pid)))
        .collect();
    let tail_before = rig.snapshot().tail;
    std::thread::sleep(Duration::from_secs(1));
    let tail_after = rig.snapshot().tail;
    let after: Vec<(u64, u64)> = pids
        .iter()
        .map(|&(_, pid)| (voluntary_switches(pid), involuntary_switches(pid)))
        .collect();
    let frames = tail_after - tail_before;
    eprintln!("{frames} frames crossed the ring in the one-second window");
    // Proof that frames moved through the window (so the counts below are
    // of a streaming loop, not an idle one), not a rate: how fast they
    // move depends on the machine's load, and speed is the benchmarks'
    // business.
    assert!(
        frames > STREAMING,
        "not streaming: only {frames} frames crossed the ring in the window"
    );
    for (i, (who, pid)) in pids.iter().enumerate() {
        let voluntary = after[i].0 - before[i].0;
        let involuntary = after[i].1 - before[i].1;
        eprintln!(
            "{who} (pid {pid}): voluntary_ctxt_switches {} -> {} (+{voluntary}), \
             nonvoluntary_ctxt_switches +{involuntary}",
            before[i].0, after[i].0
        );
        assert!(
            voluntary <= HANDFUL,
            "{who} blocked {voluntary} times in one second of streaming"
        );
    }

    if !strace_available() {
        eprintln!("strace is not installed: syscall count skipped");
        return;
    }
    for (who, pid) in pids {
        match strace_one_second(pid) {
            Some(calls) => {
                eprintln!("{who} (pid {pid}): strace -c over 1 s counted {calls} syscalls");
                assert_eq!(calls, 0, "{who} made syscalls while streaming");
            }
            None => eprintln!("strace could not attach to {who}: syscall count skipped"),
        }
    }
    assert!(rig.running(stream) && rig.running(core));
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Attaches `strace -c` to the streaming (main) thread `pid` for one
/// second; the number of syscalls it counted, or `None` if it could not
/// attach (no ptrace permission, say). Without `-f`, strace traces that
/// thread only.
fn strace_one_second(pid: u32) -> Option<u64> {
    use std::io::Read;
    let scratch = tempfile::NamedTempFile::new().ok()?;
    let out = scratch.path();
    let mut strace = Command::new("strace")
        .args(["-c", "-o"])
        .arg(out)
        .args(["-p", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_secs(1));
    let _ = kill(Pid::from_raw(strace.id() as i32), Signal::SIGINT);
    // strace exits through SIGINT (status 130); what it printed tells.
    let _ = strace.wait();
    let mut err = String::new();
    if let Some(mut s) = strace.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let summary = std::fs::read_to_string(out).unwrap_or_default();
    if !err.contains("attached") {
        eprintln!("strace said:\n{err}");
        return None;
    }
    // With no syscall at all strace -c writes nothing; otherwise its table
    // ends with a "total" row whose 4th column is the number of calls.
    let Some(total) = summary.lines().find(|l| l.trim_end().ends_with("total")) else {
        return Some(0);
    };
    let calls = total.split_whitespace().nth(3).and_then(|c| c.parse().ok());
    if calls.is_none() {
        eprintln!("unexpected strace summary:\n{summary}");
    }
    eprintln!("strace summary:\n{summary}");
    calls
}
