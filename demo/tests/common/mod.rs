//! The test rig for real-process tests of forge-init, forge-stream and
//! forge-core.
//!
//! - One rig at a time per test binary (a static mutex): two spinning
//!   daemons fill both cores of a small machine.
//! - Each rig has its own segment name, `/forge_test_<what>_<pid>`.
//! - Dropping the rig — on success, failure or panic — SIGKILLs and reaps
//!   every child it started and unlinks its segment.
//! - Every wait is bounded; a timeout fails the test (and the drop cleans up).

#![allow(dead_code)]

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use forge_fabric::{Observer, Snapshot};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

static SERIAL: Mutex<()> = Mutex::new(());

/// The three daemons, and forge-top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Init,
    Stream,
    Core,
    Top,
}

impl Bin {
    pub fn path(self) -> &'static str {
        match self {
            Bin::Init => env!("CARGO_BIN_EXE_forge-init"),
            Bin::Stream => env!("CARGO_BIN_EXE_forge-stream"),
            Bin::Core => env!("CARGO_BIN_EXE_forge-core"),
            Bin::Top => forge_top_path(),
        }
    }
}

/// forge-top, next to the daemons (another package: `cargo test
/// --workspace` builds it; `cargo test -p forge-demo` does not, so it is
/// brought up to date here, once per test binary: a stale forge-top would
/// test old code).
fn forge_top_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::path::Path::new(Bin::Init.path()).parent().unwrap();
        let top = dir.join("forge-top");
        {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = Command::new(cargo);
            build.args([
                "build",
                "-p",
                "forge-top",
                "--bin",
                "forge-top",
                "--target-dir",
            ]);
            build.arg(dir.parent().unwrap());
            if dir.ends_with("release") {
                build.arg("--release");
            }
            assert!(
                build.status().expect("cargo runs").success(),
                "building forge-top failed"
            );
        }
        top.to_string_lossy().into_owned()
    })
}

/// A finished process.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// When `wait` saw it exit.
    pub exited_at: Instant,
}

impl Output {
    /// The stdout as JSON (forge-core --report json).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing both streams if it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the program panicked:\n{}",
            self.stderr
        );
        self
    }
}

/// A handle on a child the rig started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc(usize);

pub struct Rig {
    pub segment: String,
    children: Vec<Option<Child>>,
    /// Processes that are not our children (a grandchild): SIGKILLed on drop.
    adopted: Vec<u32>,
    _serial: MutexGuard<'static, ()>,
}

impl Rig {
    /// Takes the rig lock and picks the segment name for test `what`.
    pub fn new(what: &str) -> Rig {
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let segment = format!("/forge_test_{what}_{}", std::process::id());
        let _ = forge_fabric::segment::unlink(&segment);
        Rig {
            segment,
            children: Vec::new(),
            adopted: Vec::new(),
            _serial: serial,
        }
    }

    /// The segment's file under /dev/shm.
    pub fn shm_path(&self) -> String {
        format!("/dev/shm{}", self.segment)
    }

    /// Starts `bin` with `--segment` set to this rig's segment.
    pub fn spawn(&mut self, bin: Bin, args: &[&str]) -> Proc {
        let segment = self.segment.clone();
        let mut all = vec!["--segment", segment.as_str()];
        all.extend_from_slice(args);
        self.spawn_raw(bin, &all)
    }

    /// Starts `bin` with exactly `args`.
    pub fn spawn_raw(&mut self, bin: Bin, args: &[&str]) -> Proc {
        let mut cmd = Command::new(bin.path());
        cmd.args(args).env_remove("RUST_BACKTRACE");
        self.start(cmd, bin.path())
    }

    /// Starts `program` with `args`, a tool that is not one of ours.
    pub fn spawn_raw_cmd(&mut self, program: &str, args: &[&str]) -> Proc {
        let mut cmd = Command::new(program);
        cmd.args(args).env_remove("RUST_BACKTRACE");
        self.start(cmd, program)
    }

    /// Starts a command made by the test (another user's, say), as the
    /// others are: outputs piped, killed and reaped on drop.
    pub fn spawn_command(&mut self, cmd: Command) -> Proc {
        self.start(cmd, "a test's command")
    }

    /// Starts `sh -c script`.
    pub fn spawn_shell(&mut self, script: &str) -> Proc {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        self.start(cmd, "sh")
    }

    /// Starts `bin` on this rig's segment with `signals` blocked, as a parent
    /// that blocked them would leave it: they stay pending until the program
    /// unblocks them itself.
    pub fn spawn_blocked(&mut self, bin: Bin, args: &[&str], signals: &[Signal]) -> Proc {
        use std::os::unix::process::CommandExt;
        let mut set = nix::sys::signal::SigSet::empty();
        for &sig in signals {
            set.add(sig);
        }
        let mut cmd = Command::new(bin.path());
        cmd.args(["--segment", &self.segment])
            .args(args)
            .env_remove("RUST_BACKTRACE");
        // SAFETY: between fork and exec the closure only calls sigprocmask,
        // which is async-signal-safe, and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::signal::sigprocmask(
                    nix::sys::signal::SigmaskHow::SIG_BLOCK,
                    Some(&set),
                    None,
                )
                .map_err(std::io::Error::from)
            });
        }
        self.start(cmd, bin.path())
    }

    /// Writes `bytes` at `offset` of the segment file, as another process
    /// with write access could (through the file, not the protocol).
    pub fn poke(&self, offset: u64, bytes: &[u8]) {
        use std::os::unix::fs::FileExt;
        std::fs::OpenOptions::new()
            .write(true)
            .open(self.shm_path())
            .expect("open the segment for writing")
            .write_all_at(bytes, offset)
            .expect("write into the segment");
    }

    /// Reads the little-endian u64 at `offset` of the segment file.
    pub fn peek_u64(&self, offset: u64) -> u64 {
        use std::os::unix::fs::FileExt;
        let mut b = [0u8; 8];
        std::fs::File::open(self.shm_path())
            .expect("open the segment")
            .read_exact_at(&mut b, offset)
            .expect("read the segment");
        u64::from_le_bytes(b)
    }

    /// Starts `cmd` without `FORGE_SEGMENT`, stdin closed and both outputs
    /// piped, and keeps it for `wait` and the drop.
    fn start(&mut self, mut cmd: Command, what: &str) -> Proc {
        let child = cmd
            .env_remove("FORGE_SEGMENT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        self.children.push(Some(child));
        Proc(self.children.len() - 1)
    }

    /// Reads one line of a running child's stdout (blocks until it comes).
    pub fn read_line(&mut self, p: Proc) -> String {
        use std::io::BufRead;
        let child = self.children[p.0].as_mut().expect("process already reaped");
        let stdout = child.stdout.take().expect("stdout already taken");
        let mut reader = std::io::BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read_line");
        child.stdout = Some(reader.into_inner());
        line.trim().to_owned()
    }

    /// Kills `pid` (not a child of ours) on drop if it is still around.
    pub fn adopt(&mut self, pid: u32) {
        self.adopted.push(pid);
    }

    /// Runs `bin` on this rig's segment to completion (at most `timeout`).
    pub fn run(&mut self, bin: Bin, args: &[&str], timeout: Duration) -> Output {
        let p = self.spawn(bin, args);
        self.wait(p, timeout)
    }

    /// Runs `bin` with exactly `args` to completion.
    pub fn run_raw(&mut self, bin: Bin, args: &[&str], timeout: Duration) -> Output {
        let p = self.spawn_raw(bin, args);
        self.wait(p, timeout)
    }

    /// `forge-init` on this rig's segment; must succeed.
    pub fn init(&mut self, args: &[&str]) -> Output {
        let out = self.run(Bin::Init, args, Duration::from_secs(20));
        out.expect_code(0);
        out
    }

    pub fn pid(&self, p: Proc) -> u32 {
        self.children[p.0]
            .as_ref()
            .expect("process already reaped")
            .id()
    }

    /// Polls the process every millisecond until it exits; fails the test
    /// after `timeout`.
    pub fn wait(&mut self, p: Proc, timeout: Duration) -> Output {
        let deadline = Instant::now() + timeout;
        let child = self.children[p.0].as_mut().expect("process already reaped");
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                let exited_at = Instant::now();
                let mut child = self.children[p.0].take().unwrap();
                let mut stdout = String::new();
                let mut stderr = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut stdout);
                }
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut stderr);
                }
                // Already reaped by try_wait; this returns the same status.
                let _ = child.wait();
                return Output {
                    code: status.code(),
                    stdout,
                    stderr,
                    exited_at,
                };
            }
            if Instant::now() >= deadline {
                panic!("process {} did not exit within {timeout:?}", child.id());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Is the process still running?
    pub fn running(&mut self, p: Proc) -> bool {
        match self.children[p.0].as_mut() {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    pub fn signal(&self, p: Proc, sig: Signal) {
        kill(Pid::from_raw(self.pid(p) as i32), sig).expect("kill");
    }

    /// SIGKILL and reap, so the pid is really gone.
    pub fn kill9(&mut self, p: Proc) {
        if let Some(mut child) = self.children[p.0].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A read-only view of the segment.
    pub fn observer(&self) -> Observer {
        Observer::open(&self.segment, Duration::from_secs(5)).expect("observer")
    }

    pub fn snapshot(&self) -> Snapshot {
        self.observer().snapshot().expect("snapshot")
    }

    /// Polls `cond` on fresh snapshots until it holds; fails after `timeout`.
    pub fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        mut cond: impl FnMut(&Snapshot) -> bool,
    ) -> Snapshot {
        let obs = self.observer();
        let deadline = Instant::now() + timeout;
        loop {
            let snap = obs.snapshot().expect("snapshot");
            if cond(&snap) {
                return snap;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last snapshot: head {} tail {} producer pid {} consumer pid {}",
                    snap.head, snap.tail, snap.producer.pid, snap.consumer.pid);
            }
            // A child that died early would make us wait for nothing.
            // Children that finished successfully are left for `wait`.
            for (i, child) in self.children.iter_mut().enumerate() {
                let Some(child) = child else { continue };
                if let Ok(Some(status)) = child.try_wait() {
                    if !status.success() {
                        let mut err = String::new();
                        if let Some(mut s) = child.stderr.take() {
                            let _ = s.read_to_string(&mut err);
                        }
                        panic!("child #{i} exited with {status} while waiting for {what}:\n{err}");
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until the consumer has read everything committed and returns
    /// `head` then.
    pub fn drained_head(&mut self, timeout: Duration) -> u64 {
        self.wait_for("the consumer to drain", timeout, |s| s.tail == s.head)
            .head
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in self.adopted.drain(..) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        // Whatever a test left at the name: a segment, a FIFO, a directory.
        let path = self.shm_path();
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&path);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&path);
            }
            Err(_) => {}
        }
        // And its role-lock object, which forge-init made beside it.
        let _ = std::fs::remove_file(format!("{path}.roles"));
    }
}

/// Byte offsets of header fields the tests write to, as LAYOUT.md gives them.
pub mod at {
    pub const CREATED_MONO_NS: u64 = 64;
    pub const HEAD: u64 = 128;
    pub const PRODUCER_PID: u64 = 128 + 16;
    pub const PRODUCER_HEARTBEAT: u64 = 128 + 32;
    pub const PRODUCER_ROLE_STATE: u64 = 128 + 64;
    pub const TAIL: u64 = 256;

    /// The slot word of slot `i`.
    pub fn slot_word(i: u32) -> u64 {
        forge_fabric::layout::slot_offset(i, forge_fabric::PAYLOAD_CAPACITY) as u64
    }
}

/// xorshift64: reproducible noise for hostile writes.
pub fn noise(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// `voluntary_ctxt_switches` of a process, from /proc.
pub fn voluntary_switches(pid: u32) -> u64 {
    status_field(pid, "voluntary_ctxt_switches")
}

/// `nonvoluntary_ctxt_switches` of a process, from /proc.
pub fn involuntary_switches(pid: u32) -> u64 {
    status_field(pid, "nonvoluntary_ctxt_switches")
}

/// A numeric field of `/proc/<pid>/status`.
fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field}"))
}

/// The session forge-init printed (its `session` line).
pub fn session_of(init_stdout: &str) -> String {
    init_stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("session"))
        .expect("session line")
        .trim()
        .to_owned()
}

/// Asserts that stderr mentions every needle, showing it if not.
pub fn assert_says(out: &Output, needles: &[&str]) {
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "stderr should mention {n:?}:\n{}",
            out.stderr
        );
    }
}
