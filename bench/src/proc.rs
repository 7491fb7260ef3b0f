//! Child processes and shared-memory names that are always cleaned up: a
//! guard on each, a registry for the signal thread, and the parent-death
//! signal in every child.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;

use crate::harness::{begin_figure, err, peer_gone, set_peer_preempted, Result, STOP};
use crate::spec::ChildSpec;

/// Pids of live children and names of segments not yet unlinked, for the
/// signal thread to clean up if the run is interrupted.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static SEGMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static NEXT_NAME: AtomicU32 = AtomicU32::new(0);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Blocks SIGINT, SIGTERM and SIGHUP in every thread and waits for them on
/// one thread, which stops the spin loops, kills the children and unlinks
/// the segments. Call before spawning any thread.
pub fn install_signal_thread() -> Result<()> {
    let mut set = SigSet::empty();
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(sig);
    }
    set.thread_block()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                // SYNC: pairs with the Relaxed loads of STOP that poll it; a
                // flag only.
                STOP.store(true, Ordering::Relaxed);
                eprintln!("forge-bench: {sig}: stopping, cleaning up");
                cleanup_all();
                // Give the main thread a moment to unwind and report.
                std::thread::sleep(Duration::from_secs(2));
                cleanup_all();
                std::process::exit(130);
            }
        })?;
    Ok(())
}

fn cleanup_all() {
    for pid in lock(&CHILDREN).drain(..) {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    }
    for name in lock(&SEGMENTS).drain(..) {
        let _ = forge_fabric::segment::unlink(&name);
    }
    #[cfg(feature = "iceoryx2")]
    cleanup_ice_files();
}

/// A unique segment name that is unlinked when dropped (or earlier, with
/// [`ShmName::unlink`], once both sides have it mapped).
pub struct ShmName {
    name: String,
    linked: bool,
}

impl ShmName {
    pub fn new() -> Self {
        let name = format!(
            "/forge_bench_{}_{}",
            std::process::id(),
            // SYNC: a counter for unique names; orders nothing else.
            NEXT_NAME.fetch_add(1, Ordering::Relaxed)
        );
        lock(&SEGMENTS).push(name.clone());
        ShmName { name, linked: true }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Removes the name now; mappings stay valid, and nothing is left behind
    /// even if this process is killed with SIGKILL from here on.
    pub fn unlink(&mut self) {
        if self.linked {
            let _ = forge_fabric::segment::unlink(&self.name);
            lock(&SEGMENTS).retain(|n| n != &self.name);
            self.linked = false;
        }
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// A child process running `forge-bench --child SPEC`, killed on drop.
pub struct ChildProc {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    /// Held open until [`ChildProc::finish`] when the child's stdin is
    /// piped: its end of file tells such a child it may exit.
    stdin: Option<ChildStdin>,
    what: String,
    figure: u64,
    watcher: Option<std::thread::JoinHandle<()>>,
}

impl ChildProc {
    /// Starts a child. `stdin`/`stdout` carry its transport for the kernel
    /// peers; for the others stdout is piped for the "ready" line.
    pub fn spawn(spec: &ChildSpec, stdin: Stdio, stdout: Stdio) -> Result<Self> {
        // SYNC: pairs with the Relaxed store of STOP by the signal thread; a
        // flag only.
        if STOP.load(Ordering::Relaxed) {
            return Err(err!("interrupted"));
        }
        let exe = std::env::current_exe()?;
        let json = serde_json::to_string(spec)?;
        let mut child = Command::new(exe)
            .arg("--child")
            .arg(&json)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| err!("cannot start a child process: {e}"))?;
        lock(&CHILDREN).push(child.id());
        let figure = begin_figure();
        let stdout = child.stdout.take().map(BufReader::new);
        let stdin = child.stdin.take();
        Ok(ChildProc {
            child,
            stdout,
            stdin,
            what: spec.role.name(),
            figure,
            watcher: None,
        })
    }

    /// Waits for the child's "ready" line: it has opened its resources and
    /// pinned itself.
    pub fn wait_ready(&mut self) -> Result<()> {
        let Some(out) = self.stdout.as_mut() else {
            return Err(err!("child {} has no stdout to report on", self.what));
        };
        let mut line = String::new();
        out.read_line(&mut line)?;
        if line.trim() == "ready" {
            // Nothing more comes on stdout: its end of file is the child's
            // exit. A blocked thread notices it at no cost to the figure.
            // The child's last line is its preemption count.
            let out = self.stdout.take().expect("checked above");
            let figure = self.figure;
            self.watcher = Some(
                std::thread::Builder::new()
                    .name("child-watch".into())
                    .spawn(move || {
                        for line in out.lines().map_while(std::result::Result::ok) {
                            if let Some(n) = line.strip_prefix("preempted ") {
                                if let Ok(n) = n.trim().parse() {
                                    set_peer_preempted(n);
                                }
                            }
                        }
                        peer_gone(figure);
                    })?,
            );
            Ok(())
        } else {
            let status = self.child.try_wait().ok().flatten();
            Err(err!(
                "child {} did not get ready (said {:?}, status {:?})",
                self.what,
                line.trim(),
                status
            ))
        }
    }

    /// Waits up to `timeout` for the child to exit on its own; an error if it
    /// failed or had to be killed.
    pub fn finish(mut self, timeout: Duration) -> Result<()> {
        drop(self.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                forget(self.child.id());
                if let Some(w) = self.watcher.take() {
                    let _ = w.join();
                }
                return if status.success() {
                    Ok(())
                } else {
                    Err(err!("child {} exited with {status}", self.what))
                };
            }
            // SYNC: pairs with the Relaxed store of STOP by the signal thread;
            // a flag only.
            if start.elapsed() > timeout || STOP.load(Ordering::Relaxed) {
                return Err(err!("child {} did not exit in {timeout:?}", self.what));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn forget(pid: u32) {
    lock(&CHILDREN).retain(|&p| p != pid);
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        forget(self.child.id());
    }
}

/// This run's iceoryx2 file prefix (from the parent's pid).
#[cfg(feature = "iceoryx2")]
pub fn ice_prefix() -> String {
    format!("fbench{}_", std::process::id())
}

/// Where this run's iceoryx2 nodes keep their files.
#[cfg(feature = "iceoryx2")]
pub fn ice_root_dir(prefix: &str) -> String {
    format!("/tmp/forge_bench_iox2_{prefix}/")
}

/// Removes every file this run's iceoryx2 nodes and services created.
#[cfg(feature = "iceoryx2")]
pub fn cleanup_ice_files() {
    let prefix = ice_prefix();
    if let Ok(dir) = std::fs::read_dir("/dev/shm") {
        for entry in dir.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir_all(ice_root_dir(&prefix));
}
