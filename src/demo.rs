//! `--demo`: forge-init, forge-stream and forge-core on a private segment,
//! stopped and cleaned up on every exit path.
//!
//! - Normal exit, error, panic (unwinding), SIGTERM/SIGINT/SIGHUP: [`Demo`]'s
//!   `Drop` stops the daemons and unlinks the segment.
//! - forge-top killed outright (SIGKILL, abort): the daemons run with
//!   `--die-with-parent`, and a small guard process (forge-top itself with a
//!   hidden flag, in its own process group) waits on a pipe from us; when
//!   the pipe closes without a "done" byte it stops the daemons and unlinks
//!   the segment.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::failure::Failure;
use crate::run::stop::sleep_unless_stopped;
use crate::source;

const DAEMONS: [&str; 3] = ["forge-init", "forge-stream", "forge-core"];

/// Running demo daemons.
#[derive(Debug)]
pub struct Demo {
    /// The private segment.
    pub segment: String,
    /// Where the daemons' output goes.
    pub log: PathBuf,
    children: Children,
    reaper: Option<Reaper>,
    guard: Option<Child>,
    stopped: bool,
}

/// The daemons, shared with the reaper.
type Children = Arc<Mutex<Vec<(&'static str, Child)>>>;

fn lock(children: &Children) -> MutexGuard<'_, Vec<(&'static str, Child)>> {
    children
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A thread that reaps the daemons that exit while forge-top runs (killed
/// by a person, or crashed), so none stays `<defunct>` until forge-top
/// quits. `try_wait` remembers the status, so a reaped daemon's pid, which
/// the kernel may give to another process, is never signalled again.
#[derive(Debug)]
struct Reaper {
    /// Set to end the thread. A lone flag: `Relaxed` on both sides.
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Reaper {
    /// How often exited daemons are looked for.
    const EVERY: Duration = Duration::from_millis(250);

    fn spawn(children: Children) -> std::io::Result<Reaper> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("demo-reaper".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    for (_, child) in lock(&children).iter_mut() {
                        let _ = child.try_wait();
                    }
                    std::thread::sleep(Self::EVERY);
                }
            })?;
        Ok(Reaper { stop, thread })
    }

    fn end(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// Where the daemons are: next to our own executable. When we were started
/// by `cargo run`, build them first (cargo run builds only forge-top).
pub fn daemon_dir(stop: &AtomicBool) -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new("io", format!("cannot find forge-top's own executable: {e}")))?;
    let dir = exe
        .parent()
        .ok_or_else(|| Failure::new("io", format!("{} has no parent directory", exe.display())))?
        .to_path_buf();
    if let (Ok(cargo), Ok(manifest)) = (std::env::var("CARGO"), std::env::var("CARGO_MANIFEST_DIR"))
    {
        build_with_cargo(&cargo, Path::new(&manifest), &dir, stop)?;
    }
    let missing: Vec<&str> = DAEMONS
        .iter()
        .copied()
        .filter(|d| !dir.join(d).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(Failure::new(
            "missing_daemons",
            format!(
                "forge-top --demo needs {} next to it in {}",
                missing.join(", "),
                dir.display()
            ),
        )
        .hint("build the daemons first: `cargo build --release` (then `cargo run --release -- --demo`)"));
    }
    Ok(dir)
}

/// `cargo run` builds only forge-top: build the default members (forge-top,
/// fabric and the daemons) into the same target directory and profile, the
/// very build a later `cargo build` does, so that one finds nothing to do.
/// Cargo's progress goes to our stderr (the TUI is not up yet). A failed
/// build shows up as missing binaries right after; a stop signal ends it.
fn build_with_cargo(
    cargo: &str,
    manifest: &Path,
    exe_dir: &Path,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    let (Some(profile), Some(target_dir)) = (
        exe_dir.file_name().and_then(|p| p.to_str()),
        exe_dir.parent(),
    ) else {
        return Ok(());
    };
    if !manifest.join("demo").join("Cargo.toml").is_file() {
        return Ok(());
    }
    eprintln!("forge-top --demo: building forge-init, forge-stream and forge-core (cargo build)…");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(manifest)
        .arg("build")
        .arg("--manifest-path")
        .arg(manifest.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.arg("--profile").arg(other);
        }
    }
    let Ok(mut child) = cmd.stdin(Stdio::null()).spawn() else {
        return Ok(());
    };
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        if sleep_unless_stopped(Duration::from_millis(50), stop) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::new(
                "interrupted",
                "stopped by a signal while building the daemons",
            ));
        }
    }
}

impl Demo {
    /// Creates a private segment and starts the daemons on it.
    pub fn start(rate: Option<u64>, stop: &AtomicBool) -> Result<Demo, Failure> {
        let dir = daemon_dir(stop)?;
        let segment = format!("/forge_demo_{}", std::process::id());
        let log = std::env::temp_dir().join(format!("forge-demo-{}.log", std::process::id()));
        // Created, never followed: a link planted under the predictable
        // name in a shared temporary directory is refused.
        let out = forge_cli::output::Output::new()
            .mode(0o600)
            .create(&log)
            .map_err(|e| {
                Failure::new(
                    "io",
                    format!("cannot create the daemons' log {}: {e}", log.display()),
                )
            })?;
        let io = |f: &std::fs::File| -> Result<Stdio, Failure> { Ok(Stdio::from(f.try_clone()?)) };

        let init = Command::new(dir.join("forge-init"))
            .args(["--segment", &segment])
            .stdin(Stdio::null())
            .stdout(io(&out)?)
            .stderr(io(&out)?)
            .status()
            .map_err(|e| Failure::new("io", format!("cannot run forge-init: {e}")))?;
        if !init.success() {
            let _ = source::unlink(&segment);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            return Err(Failure::new(
                "demo",
                format!(
                    "forge-init --segment {segment} failed ({init}): {}",
                    text.trim()
                ),
            ));
        }
        let mut demo = Demo {
            segment: segment.clone(),
            log,
            children: Children::default(),
            reaper: None,
            guard: None,
            stopped: false,
        };
        let mut core = Command::new(dir.join("forge-core"));
        core.args(["--segment", &segment, "--die-with-parent"]);
        let mut stream = Command::new(dir.join("forge-stream"));
        stream.args(["--segment", &segment, "--die-with-parent"]);
        if let Some(rate) = rate {
            stream.args(["--rate", &rate.to_string()]);
        }
        for (name, mut cmd) in [("forge-core", core), ("forge-stream", stream)] {
            let child = cmd
                .stdin(Stdio::null())
                .stdout(io(&out)?)
                .stderr(io(&out)?)
                .spawn()
                .map_err(|e| Failure::new("io", format!("cannot start {name}: {e}")))?;
            lock(&demo.children).push((name, child));
        }
        demo.guard = spawn_guard(&segment, &demo.pids()).ok();
        // Fail early, with their output, if a daemon refuses to start.
        if sleep_unless_stopped(Duration::from_millis(150), stop) {
            return Err(Failure::new(
                "interrupted",
                "stopped by a signal while starting the demo",
            ));
        }
        for (name, child) in lock(&demo.children).iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                let text = std::fs::read_to_string(&demo.log).unwrap_or_default();
                return Err(Failure::new(
                    "demo",
                    format!("{name} exited at once ({status}): {}", text.trim()),
                ));
            }
        }
        demo.reaper = Reaper::spawn(demo.children.clone()).ok();
        Ok(demo)
    }

    /// The daemons not reaped yet: only those may still be signalled.
    fn pids(&self) -> Vec<u32> {
        lock(&self.children)
            .iter_mut()
            .filter_map(|(_, c)| matches!(c.try_wait(), Ok(None)).then(|| c.id()))
            .collect()
    }

    /// Stops the daemons and removes the segment. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        if let Some(reaper) = self.reaper.take() {
            reaper.end();
        }
        stop_pids(&self.pids());
        for (_, child) in lock(&self.children).iter_mut() {
            let _ = child.wait();
        }
        if source::exists(&self.segment) {
            let _ = source::unlink(&self.segment);
        }
        let _ = std::fs::remove_file(&self.log);
        if let Some(mut guard) = self.guard.take() {
            // Tell the guard all is done, so it touches nothing.
            if let Some(mut stdin) = guard.stdin.take() {
                let _ = stdin.write_all(b"done");
            }
            let _ = guard.wait();
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM, up to a second's grace, then SIGKILL.
fn stop_pids(pids: &[u32]) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let live =
        |p: &u32| i32::try_from(*p).is_ok_and(|p| p > 0 && kill(Pid::from_raw(p), None).is_ok());
    for p in pids.iter().filter(|p| live(p)) {
        let _ = kill(Pid::from_raw(*p as i32), Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline && pids.iter().any(|p| live(p) && !zombie(*p)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for p in pids.iter().filter(|p| live(p)) {
        let _ = kill(Pid::from_raw(*p as i32), Signal::SIGKILL);
    }
}

/// Is `pid` a process whose command line names `segment`?
fn runs_on(pid: u32, segment: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|&b| b == 0).any(|arg| arg == segment.as_bytes()))
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn spawn_guard(segment: &str, pids: &[u32]) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe()?;
    let pids: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
    Command::new(exe)
        .arg("--demo-guard")
        .arg(segment)
        .arg("--guard-pids")
        .arg(pids.join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of our process group: a Ctrl-C or hang-up aimed at us must not
        // take the guard down before it has cleaned up.
        .process_group(0)
        .spawn()
}

/// The guard's body: wait for the pipe from forge-top to close; unless
/// forge-top said "done", stop the daemons and unlink the segment.
pub fn run_guard(segment: &str, pids: &[u32]) {
    let mut said = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut said);
    if said.starts_with(b"done") {
        return;
    }
    // forge-top reaped the daemons that exited while it ran, so a pid in
    // the list may belong to another process by now: stop only those
    // still running on our segment.
    let ours: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&p| runs_on(p, segment))
        .collect();
    stop_pids(&ours);
    if source::validate_name(segment).is_ok() && source::exists(segment) {
        let _ = source::unlink(segment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zombie_or_running(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn the_guard_stops_only_processes_that_run_on_its_segment() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 5", "sh", "/forge_test_guard_segment"])
            .spawn()
            .unwrap();
        let pid = child.id();
        // Until the child has exec'd, its command line is ours.
        let deadline = Instant::now() + Duration::from_secs(3);
        while !runs_on(pid, "/forge_test_guard_segment") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(runs_on(pid, "/forge_test_guard_segment"));
        assert!(!runs_on(pid, "/forge_test_other_segment"));
        let _ = child.kill();
        let _ = child.wait();
        assert!(!runs_on(pid, "/forge_test_guard_segment"));
    }

    #[test]
    fn issue22_8_a_daemon_that_exits_while_forge_top_runs_is_reaped_not_left_defunct() {
        let children = Children::default();
        for _ in 0..2 {
            let child = Command::new("true").spawn().unwrap();
            lock(&children).push(("true", child));
        }
        let pids: Vec<u32> = lock(&children).iter().map(|(_, c)| c.id()).collect();
        let reaper = Reaper::spawn(children.clone()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while pids.iter().any(|&p| zombie_or_running(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        reaper.end();
        for p in pids {
            assert!(!zombie_or_running(p), "pid {p} left <defunct>");
        }
    }
}
