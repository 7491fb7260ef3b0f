//! The rig for forge-exporter's tests: real rings, real daemons, the real
//! exporter binary, a plain HTTP client, and a guard that kills every child
//! and unlinks every segment of the test's prefix on every path.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use forge_fabric::{CreateOptions, LiveHolders, Segment};

static SERIAL: Mutex<()> = Mutex::new(());

/// The exporter under test.
pub fn exporter_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_forge-exporter"))
}

/// forge-stream, forge-core and forge-init, built next to the exporter
/// once per test binary (`cargo test -p forge-exporter` does not build
/// another package's binaries; a stale one would test old code).
pub fn demo_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = exporter_bin().parent().unwrap().to_path_buf();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "-q", "-p", "forge-demo", "--bins", "--target-dir"])
            .arg(dir.parent().unwrap());
        if dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(
            build.status().expect("cargo runs").success(),
            "building forge-demo failed"
        );
    });
    dir.join(name)
}

/// Kills its children and unlinks every segment of its prefix when
/// dropped, whether the test passed, failed or panicked.
pub struct Rig {
    /// `/forge_test_exporter_<what>_<pid>_`; rings add a number.
    pub prefix: String,
    children: Vec<Child>,
    /// Copies of the exporter another user may run; removed after the
    /// children are killed.
    copies: Vec<tempfile::TempDir>,
    _serial: MutexGuard<'static, ()>,
}

impl Rig {
    pub fn new(what: &str) -> Rig {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let rig = Rig {
            prefix: format!("/forge_test_exporter_{what}_{}_", std::process::id()),
            children: Vec::new(),
            copies: Vec::new(),
            _serial: serial,
        };
        rig.unlink_all();
        rig
    }

    /// A segment named `{prefix}{suffix}`. Suffixes are numbers, so that
    /// the name ends in `_<pid>_<n>` and `.ci/run` can tell whose a
    /// leftover is.
    pub fn name(&self, suffix: &str) -> String {
        assert!(
            suffix.bytes().all(|b| b.is_ascii_digit()),
            "suffix {suffix:?}"
        );
        format!("{}{suffix}", self.prefix)
    }

    /// Creates a small ring.
    pub fn ring(&self, suffix: &str, mode: u32) -> Segment {
        let opts = CreateOptions {
            slot_count: 16,
            payload_capacity: 64,
            mode,
        };
        Segment::replace(&self.name(suffix), &opts, LiveHolders::Retire)
            .expect("create a test ring")
            .0
    }

    /// Starts `cmd`; killed when the rig drops.
    pub fn spawn(&mut self, mut cmd: Command) -> usize {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn a child");
        self.children.push(child);
        self.children.len() - 1
    }

    /// A paced, parked producer and consumer on `name`.
    pub fn daemons(&mut self, name: &str, rate: u64) -> (usize, usize) {
        let mut stream = Command::new(demo_bin("forge-stream"));
        stream.args([
            "--segment",
            name,
            "--rate",
            &rate.to_string(),
            "--wait",
            "park",
            "--size",
            "64",
        ]);
        let mut core = Command::new(demo_bin("forge-core"));
        core.args(["--segment", name, "--wait", "park"]);
        (self.spawn(stream), self.spawn(core))
    }

    pub fn child(&mut self, i: usize) -> &mut Child {
        &mut self.children[i]
    }

    /// SIGKILLs child `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        let c = &mut self.children[i];
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Starts the exporter on a free loopback port with `args`, as `uid`
    /// if given, and waits (bounded) until it answers.
    pub fn exporter(&mut self, args: &[&str], uid: Option<u32>) -> (usize, SocketAddr) {
        let prefix = self.prefix.clone();
        self.exporter_with(&prefix, args, uid)
    }

    /// The exporter over rings starting with `prefix` alone.
    pub fn exporter_for(&mut self, prefix: &str, args: &[&str]) -> (usize, SocketAddr) {
        self.exporter_with(prefix, args, None)
    }

    fn exporter_with(
        &mut self,
        prefix: &str,
        args: &[&str],
        uid: Option<u32>,
    ) -> (usize, SocketAddr) {
        use std::os::unix::process::CommandExt;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut bin = exporter_bin();
        if uid.is_some() {
            // The build directory may be closed to other users (a CI clone
            // under /root): run a copy from a directory anyone may enter.
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let copy = dir.path().join("forge-exporter");
            std::fs::copy(&bin, &copy).unwrap();
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
            bin = copy;
            self.copies.push(dir);
        }
        let mut cmd = Command::new(bin);
        cmd.args(["--listen", &addr.to_string(), "--prefix", prefix])
            .args(args);
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid).current_dir("/");
        }
        let i = self.spawn(cmd);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = get(addr, "/", None) {
                assert_eq!(r.status, 200);
                return (i, addr);
            }
            if let Ok(Some(status)) = self.children[i].try_wait() {
                panic!("forge-exporter exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "forge-exporter did not answer in 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn unlink_all(&self) {
        let Ok(dir) = std::fs::read_dir("/dev/shm") else {
            return;
        };
        let stem = &self.prefix[1..];
        for e in dir.flatten() {
            if e.file_name().to_string_lossy().starts_with(stem) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.unlink_all();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request on a fresh connection (`Connection: close`), bounded by a
/// 30 s timeout on each read and write.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no end of headers in {text:?}")))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

pub fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> std::io::Result<Reply> {
    request(addr, "GET", path, accept)
}

/// One sample line of an exposition.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The samples of a text exposition (either format; our label values hold
/// no escaped quotes).
pub fn parse(text: &str) -> Vec<Series> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name_labels, value) = l.rsplit_once(' ').expect("name value");
            let (name, labels) = match name_labels.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (name_labels, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once("=\"").expect("label=\"value\"");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            let value = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("a number in {l:?}")),
            };
            Series {
                name: name.to_owned(),
                labels,
                value,
            }
        })
        .collect()
}

/// The value of the one series `name` with these labels.
pub fn value(series: &[Series], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Series> = series
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {found:?}");
    found.first().map(|s| s.value)
}

/// Is the test process root?
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
