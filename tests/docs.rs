//! The guides' commands, run as written: every shell block of README.md and
//! docs/*.md either runs here against a live ring or says why it cannot
//! (`<!-- doc-test: skip: why -->` on the line before its fence), so a step
//! that fails as written fails the tests.
//!
//! `<!-- doc-test: MODE -->` before a fence runs its command lines one by
//! one, in order, in one fresh directory, with the daemons' directory on
//! `PATH` and `FORGE_SEGMENT` naming a segment of this test's own. MODE says
//! what is at that segment first: `fresh` (nothing), `ring` (a ring, no
//! daemon), `producer` (forge-stream writing into it), `daemons`
//! (forge-stream and forge-core). A command that runs until Ctrl-C gets
//! SIGINT after a few seconds; every command must end with status 0.
//! Segment names the commands give (`/other`, …) are made unique to the run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How long a command may run before it gets SIGINT, seconds.
const RUN_FOR_S: u32 = 3;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The daemons and tools, next to forge-top; built if this run did not.
fn bin_dir() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let top = PathBuf::from(env!("CARGO_BIN_EXE_forge-top"));
            let dir = top.parent().unwrap().to_path_buf();
            let need = [
                "forge-init",
                "forge-stream",
                "forge-core",
                "forge-record",
                "forge-replay",
            ];
            if need.iter().any(|b| !dir.join(b).is_file()) {
                let cargo = std::env::var("CARGO").unwrap_or("cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "-p", "forge-demo", "-p", "forge-record", "--bins"])
                    .arg("--target-dir")
                    .arg(dir.parent().unwrap())
                    .status()
                    .expect("cargo runs");
                assert!(status.success(), "building the tools failed");
            }
            dir
        })
        .clone()
}

/// One shell block of a guide.
#[derive(Debug)]
struct Block {
    file: String,
    line: usize,
    /// What the annotation before it says, if any.
    mode: Option<String>,
    /// The command lines.
    commands: Vec<String>,
}

fn guides() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_start();
        let lang = fence.strip_prefix("```").map(str::trim);
        let Some(lang) = lang.filter(|l| ["sh", "console", "bash", "shell"].contains(l)) else {
            if fence.starts_with("```") {
                // Some other fence: skip to its end.
                i += 1;
                while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                    i += 1;
                }
            }
            i += 1;
            continue;
        };
        let mode = i
            .checked_sub(1)
            .map(|j| lines[j].trim())
            .and_then(|l| l.strip_prefix("<!-- doc-test:"))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|m| m.trim().to_owned());
        let start = i + 1;
        i += 1;
        let mut commands = Vec::new();
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            let l = lines[i].trim();
            let command = if lang == "console" {
                l.strip_prefix("$ ")
            } else {
                Some(l).filter(|l| !l.is_empty() && !l.starts_with('#'))
            };
            commands.extend(command.map(str::to_owned));
            i += 1;
        }
        out.push(Block {
            file: path.strip_prefix(root()).unwrap().display().to_string(),
            line: start,
            mode,
            commands,
        });
        i += 1;
    }
    out
}

fn all_blocks() -> Vec<Block> {
    guides().iter().flat_map(|p| blocks(p)).collect()
}

#[test]
fn every_shell_block_of_the_guides_is_run_or_says_why_not() {
    let blocks = all_blocks();
    assert!(blocks.len() >= 8, "{blocks:#?}");
    let unsaid: Vec<String> = blocks
        .iter()
        .filter(|b| match b.mode.as_deref() {
            Some(m) if m.starts_with("skip:") => m.len() <= "skip:".len() + 3,
            Some("fresh" | "ring" | "producer" | "daemons") => false,
            _ => true,
        })
        .map(|b| format!("{}:{} {:?}", b.file, b.line, b.mode))
        .collect();
    assert!(
        unsaid.is_empty(),
        "shell blocks with no `<!-- doc-test: MODE -->` (or a skip without a reason): {unsaid:?}"
    );
}

/// What a block runs against, stopped and removed on drop.
struct Fixture {
    segment: String,
    others: Vec<String>,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(k: usize, mode: &str) -> Fixture {
        let f = Fixture {
            segment: format!("/forge_test_docs_{}_{k}", std::process::id()),
            others: Vec::new(),
            children: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        };
        let mut f = f;
        if mode != "fresh" {
            let out = f.command("forge-init").output().unwrap();
            assert!(out.status.success(), "forge-init: {out:?}");
        }
        if mode == "producer" || mode == "daemons" {
            let child = f
                .command("forge-stream")
                .args(["--rate", "20000", "--size", "64-256", "--die-with-parent"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            f.children.push(child);
        }
        if mode == "daemons" {
            let child = f
                .command("forge-core")
                .args(["--die-with-parent"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            f.children.push(child);
        }
        std::thread::sleep(Duration::from_millis(300));
        f
    }

    fn path(&self) -> String {
        format!(
            "{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(bin_dir().join(program));
        c.env("FORGE_SEGMENT", &self.segment)
            .env("PATH", self.path())
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    /// `line` with the segment names it gives made this run's own.
    fn rewrite(&mut self, line: &str) -> String {
        let mut out = Vec::new();
        let mut words = line.split(' ').peekable();
        while let Some(w) = words.next() {
            out.push(w.to_owned());
            if w == "--segment" {
                if let Some(name) = words.next() {
                    let own = if name == "/forge_shm" {
                        self.segment.clone()
                    } else {
                        format!("{}_{}", self.segment, name.trim_start_matches('/'))
                    };
                    if !self.others.contains(&own) && own != self.segment {
                        self.others.push(own.clone());
                    }
                    out.push(own);
                }
            }
        }
        out.join(" ")
    }

    /// Runs one command line as written (but for segment names); SIGINT
    /// after [`RUN_FOR_S`] seconds if it has not ended.
    fn run(&mut self, line: &str) -> std::process::Output {
        let line = self.rewrite(line);
        Command::new("timeout")
            .args(["--preserve-status", "-s", "INT", "-k", "5"])
            .arg(RUN_FOR_S.to_string())
            .args(["bash", "-c", &format!("set -o pipefail; {line}")])
            .env("FORGE_SEGMENT", &self.segment)
            .env("PATH", self.path())
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for name in std::iter::once(&self.segment).chain(&self.others) {
            let _ = std::fs::remove_file(format!("/dev/shm{name}"));
            let _ = std::fs::remove_file(format!("/dev/shm{name}.roles"));
        }
    }
}

#[test]
fn the_guides_commands_run_as_written_against_a_live_ring() {
    let _ = bin_dir();
    let mut ran = 0;
    let mut failed = Vec::new();
    for (k, block) in all_blocks().iter().enumerate() {
        let Some(mode) = block.mode.as_deref().filter(|m| !m.starts_with("skip")) else {
            continue;
        };
        let mut fixture = Fixture::new(k, mode);
        for command in &block.commands {
            let out = fixture.run(command);
            ran += 1;
            if !out.status.success() {
                failed.push(format!(
                    "{}:{} `{command}` ({}): {}{}",
                    block.file,
                    block.line,
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ));
                break;
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    assert!(ran >= 10, "only {ran} commands ran");
}

#[test]
fn the_front_pages_demo_runs_headless() {
    // `cargo run --release -- --demo` is the interactive form of this.
    let _ = bin_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_forge-top"))
        .args(["--demo", "--once", "--after", "1s"])
        .env_remove("CARGO")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("producer  pid"), "{text}");
}
