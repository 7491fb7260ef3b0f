//! The two measured paths: the processes each starts, and how a run's
//! figures are read back.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use color_eyre::eyre::{eyre, Result, WrapErr};
use color_eyre::Section;
use forge_bridge::auth;
use forge_fabric::{CreateOptions, LiveHolders, Segment};

/// One measured run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Run {
    /// Frames per second, first to last frame received.
    pub frames_per_s: f64,
    /// One-way latency p50, ns.
    pub p50_ns: u64,
    /// One-way latency p99, ns.
    pub p99_ns: u64,
    /// User + system time of every process of the run, ns.
    pub cpu_ns: u64,
}

/// The programs a run starts, next to this one.
pub(super) struct Bins {
    me: PathBuf,
    stream: PathBuf,
    core: PathBuf,
}

impl Bins {
    pub(super) fn find() -> Result<Bins> {
        let me = std::env::current_exe().wrap_err("finding forge-bridge's own path")?;
        let dir = me
            .parent()
            .expect("an executable has a directory")
            .to_path_buf();
        let bins = Bins {
            stream: dir.join("forge-stream"),
            core: dir.join("forge-core"),
            me,
        };
        for b in [&bins.stream, &bins.core] {
            if !b.is_file() {
                return Err(eyre!("{} is missing", b.display())).suggestion(
                    "build the daemons next to forge-bridge: cargo build --release -p forge-demo --bins",
                );
            }
        }
        Ok(bins)
    }
}

/// Children killed on drop, whatever happens.
struct Children(Vec<Child>);

impl Children {
    fn spawn(&mut self, cmd: &mut Command) -> Result<usize> {
        self.spawn_with(cmd.stderr(Stdio::null()))
    }

    fn spawn_with(&mut self, cmd: &mut Command) -> Result<usize> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .wrap_err_with(|| format!("starting {cmd:?}"))?;
        self.0.push(child);
        Ok(self.0.len() - 1)
    }

    /// Starts `cmd` with its stderr in a new file `log` (removed on drop
    /// of the returned guard).
    fn spawn_logged(&mut self, cmd: &mut Command, log: &std::path::Path) -> Result<(usize, Log)> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(log)
            .wrap_err_with(|| format!("cannot create {}", log.display()))?;
        let i = self.spawn_with(cmd.stderr(file))?;
        Ok((i, Log(log.to_path_buf())))
    }

    /// Waits until child `i`'s log says `needle` (at most `timeout`).
    fn wait_for_line(
        &mut self,
        i: usize,
        log: &Log,
        needle: &str,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = std::fs::read_to_string(&log.0).unwrap_or_default();
            if text.contains(needle) {
                return Ok(());
            }
            if self.0[i].try_wait()?.is_some() || Instant::now() > deadline {
                return Err(eyre!(
                    "a bridge of the benchmark never said {needle:?}; its stderr:\n{text}"
                ));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for child `i` (at most `timeout`) and returns its stdout.
    fn wait(&mut self, i: usize, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.0[i].try_wait()? {
                let mut out = String::new();
                if let Some(mut s) = self.0[i].stdout.take() {
                    use std::io::Read;
                    s.read_to_string(&mut out)?;
                }
                if !status.success() {
                    return Err(eyre!("a benchmark process failed ({status}): {out}"));
                }
                return Ok(out);
            }
            if Instant::now() > deadline {
                return Err(eyre!("a benchmark process did not finish in {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn interrupt(&mut self, i: usize) {
        let pid = nix::unistd::Pid::from_raw(self.0[i].id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    }
}

/// A child's stderr file, removed on drop.
struct Log(PathBuf);

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub(super) const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Zenoh's own pub/sub between two processes.
pub(super) fn raw_zenoh(
    bins: &Bins,
    port: u16,
    payload: usize,
    count: u64,
    rate: u64,
) -> Result<Run> {
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let key = format!("forge/bench/{}/{port}", std::process::id());
    let mut kids = Children(Vec::new());
    let peer = |side: &str| {
        let mut c = Command::new(&bins.me);
        c.args(["bench-peer", side, "--endpoint", &endpoint, "--key", &key])
            .args([
                "--count",
                &count.to_string(),
                "--size",
                &payload.to_string(),
            ])
            .args(["--rate", &rate.to_string()]);
        c
    };
    let publisher = kids.spawn(&mut peer("pub"))?;
    let subscriber = kids.spawn(&mut peer("sub"))?;
    let out = kids.wait(subscriber, RUN_TIMEOUT)?;
    kids.wait(publisher, RUN_TIMEOUT)?;
    serde_json::from_str::<RunJson>(out.trim())
        .map(Run::from)
        .wrap_err_with(|| format!("reading the subscriber's report: {out}"))
}

/// The subscriber's report, in forge-core's shape.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct RunJson {
    pub(super) frames: u64,
    pub(super) frames_per_s: f64,
    pub(super) latency_ns: LatencyJson,
    #[serde(default)]
    pub(super) gaps: u64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct LatencyJson {
    pub(super) p50: u64,
    pub(super) p99: u64,
}

impl From<RunJson> for Run {
    fn from(r: RunJson) -> Run {
        Run {
            frames_per_s: r.frames_per_s,
            p50_ns: r.latency_ns.p50,
            p99_ns: r.latency_ns.p99,
            cpu_ns: 0,
        }
    }
}

/// A key for the bridge's runs, in a directory of this run's own (0700),
/// both removed at the end.
pub(super) struct BenchKey {
    dir: PathBuf,
    pub(super) file: PathBuf,
}

impl BenchKey {
    pub(super) fn new() -> Result<BenchKey> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("forge-bridge-bench-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .wrap_err_with(|| format!("cannot create {}", dir.display()))?;
        let file = dir.join("stream.key");
        let key = BenchKey { dir, file };
        auth::keygen(&key.file).map_err(|e| eyre!(e))?;
        Ok(key)
    }
}

impl Drop for BenchKey {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Fresh segments of this run, unlinked on drop.
struct Segments(Vec<String>);

impl Segments {
    /// Creates `/forge_bench_bridge_{tag}_{pid}` for each tag.
    fn create(tags: &[&str]) -> Result<Segments> {
        let pid = std::process::id();
        let mut segs = Segments(Vec::new());
        for tag in tags {
            let name = format!("/forge_bench_bridge_{tag}_{pid}");
            Segment::replace(&name, &CreateOptions::default(), LiveHolders::Retire)
                .wrap_err_with(|| format!("creating {name}"))?;
            segs.0.push(name);
        }
        Ok(segs)
    }
}

impl Drop for Segments {
    fn drop(&mut self) {
        for s in &self.0 {
            let _ = forge_fabric::segment::unlink(s);
        }
    }
}

/// forge-core reading `segment`, started first so that it waits for the
/// frames: its JSON report comes out on stdout.
fn core(kids: &mut Children, bins: &Bins, segment: &str, count: u64, wait: &str) -> Result<usize> {
    kids.spawn(Command::new(&bins.core).args([
        "--segment",
        segment,
        "--count",
        &count.to_string(),
        "--report",
        "json",
        "--wait",
        wait,
    ]))
}

/// forge-stream writing `count` frames of `payload` bytes at `rate` (0: as
/// fast as they go) into `segment`.
fn stream(
    kids: &mut Children,
    bins: &Bins,
    segment: &str,
    (payload, count, rate): (usize, u64, u64),
    wait: &str,
) -> Result<usize> {
    kids.spawn(Command::new(&bins.stream).args([
        "--segment",
        segment,
        "--count",
        &count.to_string(),
        "--size",
        &payload.to_string(),
        "--rate",
        &rate.to_string(),
        "--wait",
        wait,
    ]))
}

/// forge-core's report of a run that must have lost nothing.
fn read_core_report(report: &str, count: u64, what: &str) -> Result<Run> {
    let r: RunJson = serde_json::from_str(report.trim())
        .wrap_err_with(|| format!("reading forge-core's report: {report}"))?;
    if r.gaps != 0 || r.frames != count {
        return Err(eyre!("{what} lost frames in a benchmark run: {report}"));
    }
    Ok(r.into())
}

/// forge-stream -> ring -> forge-core: the hop the bridge adds at each end.
pub(super) fn ring_hop(
    bins: &Bins,
    payload: usize,
    count: u64,
    rate: u64,
    wait: &str,
) -> Result<Run> {
    let segs = Segments::create(&["hop"])?;
    let seg = &segs.0[0];
    let mut kids = Children(Vec::new());
    let reader = core(&mut kids, bins, seg, count, wait)?;
    let writer = stream(&mut kids, bins, seg, (payload, count, rate), wait)?;
    let report = kids.wait(reader, RUN_TIMEOUT)?;
    kids.wait(writer, RUN_TIMEOUT)?;
    drop(kids);
    drop(segs);
    read_core_report(&report, count, "one ring")
}

/// forge-stream -> out -> in -> forge-core, on two fresh segments.
pub(super) fn bridge(
    bins: &Bins,
    port: u16,
    payload: usize,
    count: u64,
    rate: u64,
    key_file: &std::path::Path,
    wait: &str,
) -> Result<Run> {
    let segs = Segments::create(&["a", "b"])?;
    let (a, b) = (segs.0[0].clone(), segs.0[1].clone());
    let pid = std::process::id();
    let endpoint = format!("tcp/127.0.0.1:{port}");
    let key = format!("forge/bench/{pid}/{port}");
    let mut kids = Children(Vec::new());
    let mut common = vec!["--no-multicast-scouting", "--wait", wait, "--auth-key"];
    let key_path = key_file.to_string_lossy();
    common.push(&key_path);
    // Ready before the first frame is made, as raw Zenoh's publisher
    // waits for its subscriber: `out` listening, then `in` connected and
    // following the origin (else the frames made meanwhile count the
    // link's set-up, up to Zenoh's 1 s reconnection period, as latency).
    let dir = key_file
        .parent()
        .expect("the key is in the run's directory");
    // One end: `forge-bridge MODE --segment SEG --key KEY FLAG ENDPOINT`,
    // its stderr logged, waited for until it says `ready`.
    let mut start = |mode: &str, seg: &str, flag: &str, ready: &str| -> Result<(usize, Log)> {
        let (i, log) = kids.spawn_logged(
            Command::new(&bins.me)
                .args([mode, "--segment", seg, "--key", &key, flag, &endpoint])
                .args(&common),
            &dir.join(format!("{mode}-{port}.err")),
        )?;
        kids.wait_for_line(i, &log, ready, Duration::from_secs(20))?;
        Ok((i, log))
    };
    let (out, _out_log) = start("out", &a, "--listen", "publishing on")?;
    let (inb, _in_log) = start("in", &b, "--connect", "the sender publishes origin session")?;
    let core = core(&mut kids, bins, &b, count, wait)?;
    let stream = stream(&mut kids, bins, &a, (payload, count, rate), wait)?;
    let report = kids.wait(core, RUN_TIMEOUT)?;
    kids.wait(stream, RUN_TIMEOUT)?;
    kids.interrupt(inb);
    kids.interrupt(out);
    let _ = kids.wait(inb, Duration::from_secs(10));
    let _ = kids.wait(out, Duration::from_secs(10));
    drop(segs);
    read_core_report(&report, count, "the bridge")
}
