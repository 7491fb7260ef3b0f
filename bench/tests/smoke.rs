//! `forge-bench --smoke` runs end to end and writes its table, JSON and
//! plots. No timing is asserted: the figures depend on the machine.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the bench on drop if it is still running.
struct Running(Option<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

fn shm_left_by(pid: u32) -> Vec<String> {
    let prefix = format!("forge_bench_{pid}_");
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn smoke_run_prints_the_tables_and_writes_every_output() {
    if forge_holder::pin::available_cores().len() < 2 {
        eprintln!("skipped: forge-bench needs two cores");
        return;
    }
    // Removed on drop, even when the test fails.
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let out = scratch.path();
    let child = Command::new(env!("CARGO_BIN_EXE_forge-bench"))
        .args(["--smoke", "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("forge-bench starts");
    let pid = child.id();
    let mut running = Running(Some(child));
    let deadline = Instant::now() + Duration::from_secs(240);
    while running
        .0
        .as_mut()
        .expect("still held")
        .try_wait()
        .expect("try_wait")
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "forge-bench --smoke did not finish in 240 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let child = running.0.take().expect("still held");
    let output = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "forge-bench failed:\n{stderr}");
    for heading in [
        "## Machine and method",
        "## Ratios and targets",
        "## Round trip",
        "## One-way latency",
        "## Throughput",
        "| Forge RTT / floor RTT, 64 B |",
        "| socket pair RTT / Forge RTT, 64 B |",
        "Forge shm (2 processes)",
        "rtrb (2 threads)",
    ] {
        assert!(stdout.contains(heading), "no {heading:?} in:\n{stdout}");
    }
    for file in [
        "results.md",
        "results.json",
        "latency.svg",
        "throughput.svg",
    ] {
        let text = std::fs::read_to_string(out.join(file))
            .unwrap_or_else(|e| panic!("{file} was not written: {e}"));
        assert!(!text.is_empty(), "{file} is empty");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
            .expect("results.json is JSON");
    assert!(json["results"]["latency"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert!(json["checks"].as_array().is_some_and(|a| !a.is_empty()));
    assert!(
        std::fs::read_to_string(out.join("latency.svg"))
            .unwrap()
            .starts_with("<svg"),
        "latency.svg is not an SVG"
    );
    assert_eq!(
        shm_left_by(pid),
        Vec::<String>::new(),
        "segments left behind"
    );
}

#[test]
fn bad_payload_is_refused_with_the_sizes_it_takes() {
    let output = Command::new(env!("CARGO_BIN_EXE_forge-bench"))
        .args(["--smoke", "--payloads", "100"])
        .output()
        .expect("forge-bench runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("payload 100 is not one of [8, 64, 1024, 4096]"),
        "{stderr}"
    );
}

#[test]
fn results_already_in_the_output_directory_are_refused_before_anything_runs() {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let precious = scratch.path().join("precious");
    std::fs::write(&precious, b"keep me").unwrap();
    // A link planted under the name of the next result.
    std::os::unix::fs::symlink(&precious, scratch.path().join("results.md")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_forge-bench"))
        .args(["--smoke", "--out"])
        .arg(scratch.path())
        .output()
        .expect("forge-bench runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("results.md already exists (a symbolic link)")
            && stderr.contains("--force"),
        "{stderr}"
    );
    // Refused before measuring: no table, no other result.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!scratch.path().join("results.json").exists());
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
}
