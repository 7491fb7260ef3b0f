//! forge-exporter over HTTP: what it answers, in which format, and that
//! slow clients hold neither the sampler nor, past the write timeout, a
//! worker. `promtool check metrics` reads the exposition when installed.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn other_paths_get_404_other_methods_405_and_metrics_negotiates_its_format() {
    let mut rig = Rig::new("http");
    let _ring = rig.ring("1", 0o600);
    let (_, addr) = rig.exporter(&[], None);

    let r = get(addr, "/nope", None).unwrap();
    assert_eq!(r.status, 404);
    assert!(r.body.contains("/metrics"), "{}", r.body);

    for method in ["POST", "PUT", "DELETE"] {
        let r = request(addr, method, "/metrics", None).unwrap();
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    }

    // Not HTTP at all: 400, and the server goes on.
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(b"HELLO\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");

    let head = request(addr, "HEAD", "/metrics", None).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD has no body");

    let plain = get(addr, "/metrics?x=1", None).unwrap();
    assert_eq!(plain.status, 200);
    assert!(plain
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    assert!(plain.body.contains("# TYPE forge_frames_total counter"));

    let om = get(
        addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .unwrap();
    assert_eq!(om.status, 200);
    assert!(om
        .header("Content-Type")
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(om.body.ends_with("# EOF\n"));
    assert!(om.body.contains("# TYPE forge_frames counter"));
    let series = parse(&om.body);
    let ring = rig.name("1");
    assert_eq!(
        value(
            &series,
            "forge_ring_state",
            &[("ring", &ring), ("state", "live")]
        ),
        Some(1.0)
    );
}

/// A socket whose receive buffer is tiny, so that the server's write
/// blocks after a few kilobytes when we do not read.
fn slow_reader(addr: SocketAddr) -> TcpStream {
    use nix::sys::socket::{
        connect, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn,
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    setsockopt(&fd, sockopt::RcvBuf, &1024).unwrap();
    let SocketAddr::V4(v4) = addr else {
        unreachable!("loopback v4")
    };
    connect(fd.as_raw_fd(), &SockaddrIn::from(v4)).unwrap();
    let mut s = TcpStream::from(fd);
    write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s
}

fn scrapes(addr: SocketAddr) -> f64 {
    let r = get(addr, "/metrics", None).unwrap();
    assert_eq!(r.status, 200);
    value(&parse(&r.body), "forge_exporter_scrapes_total", &[]).unwrap()
}

#[test]
fn slow_clients_hold_neither_the_sampler_nor_a_worker_past_the_write_timeout() {
    let mut rig = Rig::new("slow");
    // Enough rings that one exposition is larger than the socket buffers
    // between a server and a client that reads nothing (Linux grows a
    // send buffer up to net.ipv4.tcp_wmem's 4 MiB by default).
    let _rings: Vec<_> = (0..170).map(|i| rig.ring(&format!("{i}"), 0o600)).collect();
    let (_, addr) = rig.exporter(
        &["--threads", "2", "--write-timeout", "2s", "--max-age", "0s"],
        None,
    );
    let body_len = get(addr, "/metrics", None).unwrap().body.len();
    let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|t| t.split_whitespace().nth(2)?.parse::<usize>().ok())
        .unwrap_or(4 << 20);
    assert!(
        body_len > wmem_max + (1 << 20),
        "an exposition of {body_len} bytes fits in a {wmem_max}-byte send buffer: too small for this test"
    );

    // One client that never reads its response holds one worker; one that
    // sends half a request holds none (tiny_http reads requests on threads
    // of its own). The other worker answers, and every answer is a new pass.
    let _reader = slow_reader(addr);
    let mut sender = TcpStream::connect(addr).unwrap();
    sender.write_all(b"GET /metr").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut last = scrapes(addr);
    for _ in 0..3 {
        let now = scrapes(addr);
        assert!(
            now > last,
            "the sampler made no new pass: {now} after {last}"
        );
        last = now;
    }

    // Both workers held by readers that never read: only the write timeout
    // frees them, and then a scrape is answered.
    let _more = [slow_reader(addr), slow_reader(addr)];
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let r = get(addr, "/metrics", None).unwrap();
    assert_eq!(r.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered after {:?}: the write timeout did not free a worker",
        started.elapsed()
    );
    // The first slow reader's response was given up: what it can still
    // read stops short of the whole response.
    let mut reader = _reader;
    reader
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut got = Vec::new();
    let _ = reader.read_to_end(&mut got);
    assert!(
        got.len() < body_len,
        "the slow reader got the whole response ({} bytes)",
        got.len()
    );
}

#[test]
fn promtool_check_metrics_passes_on_the_exposition() {
    let Ok(status) = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    else {
        eprintln!("NOTE: promtool is not installed (Debian package prometheus); skipping promtool check metrics");
        return;
    };
    assert!(status.success());
    let mut rig = Rig::new("promtool");
    let segment = rig.ring("1", 0o600);
    // The test holds both roles, so liveness, pid and program series exist.
    let mut producer = segment.producer().unwrap();
    let mut consumer = segment.consumer().unwrap();
    for i in 0..10u8 {
        producer.write_from(&[i; 32]).unwrap();
    }
    producer.flush_index();
    while let Some(frame) = consumer.read_slot().unwrap() {
        frame.release();
    }
    consumer.flush_index();
    let _idle = rig.ring("2", 0o600);
    let (_, addr) = rig.exporter(&[], None);
    let r = get(addr, "/metrics", None).unwrap();
    assert_eq!(r.status, 200);
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(r.body.as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let series = parse(&r.body);
    let ring = rig.name("1");
    assert_eq!(
        value(
            &series,
            "forge_frames_total",
            &[("ring", &ring), ("role", "consumer")]
        ),
        Some(10.0)
    );
    drop((producer, consumer));
}
