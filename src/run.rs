//! The modes: the live TUI, `--snapshot`, `--once`, `--list`, and the demo
//! guard; each about one ring, or (no segment chosen, or `--all`) about
//! every ring of the host ([`host`]). Every mode ends within 100 ms of
//! SIGINT, SIGTERM or SIGHUP.
//!
//! ```text
//!  main ─▶ mode ─┬─ tui: events (terminal + feed [+ host]) ─▶ loop ─▶ app ─▶ ui ─▶ effects
//!                ├─ --snapshot / --once: feed or host ─▶ app ─▶ ui / export ─▶ file / stdout
//!                └─ --list: source ─▶ stdout
//! ```

pub mod effects;
pub mod events;
pub mod host;
pub mod output;
pub mod stop;
pub mod tui;

pub use output::render_buffer;

use events::Feed;
use stop::sleep_unless_stopped;
use stop::stop_on_signals;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alarms::Thresholds;
use crate::app::{App, Config};
use crate::cli::{Cli, Format, Mode};
use crate::demo::Demo;
use crate::export;
use crate::failure::Failure;
use crate::model::{human, SegmentSummary};
use crate::offline::FileSource;
use crate::source::{self, LiveSource, DEFAULT_SEGMENT};
use effects::SystemEffects;
use events::LiveEvents;
use output::print_out;

/// How long headless modes wait for a missing segment.
const HEADLESS_WAIT: Duration = Duration::from_secs(5);

/// Runs what the command line asks for.
pub fn main(cli: &Cli) -> Result<(), Failure> {
    let mode = cli.mode();
    if let Mode::Guard { segment, pids } = &mode {
        crate::demo::run_guard(segment, pids);
        return Ok(());
    }
    let stop = stop_on_signals()?;
    if mode == Mode::List {
        return list(cli, &stop);
    }
    if cli.filter.is_some() && !cli.host() {
        return Err(Failure::new(
            "usage",
            "--filter applies to the host view, and --segment (or FORGE_SEGMENT, --demo, --file) chose one ring",
        )
        .hint("use --all to see every ring, filtered"));
    }
    if let Some(core) = cli.core {
        pin_self(core)?;
    }
    if cli.host() {
        return host::run(cli, config(cli, String::new(), false), &mode, stop);
    }
    let demo = if cli.demo {
        Some(Demo::start(Some(cli.demo_rate), &stop)?)
    } else {
        None
    };
    let segment = match (&demo, &cli.segment, &cli.file) {
        (_, _, Some(file)) => file.display().to_string(),
        (Some(d), _, _) => d.segment.clone(),
        (None, Some(name), _) => name.clone(),
        // No segment chosen is the host view, above.
        (None, None, None) => DEFAULT_SEGMENT.to_owned(),
    };
    let config = config(cli, segment, demo.is_some());
    let result = match &mode {
        Mode::Snapshot(path) => snapshot(cli, config, path, &stop),
        Mode::Once => once(cli, config, &stop),
        _ => tui(cli, config, stop),
    };
    drop(demo);
    result
}

/// The settings the command line gives, for `segment` (empty: the host).
fn config(cli: &Cli, segment: String, demo: bool) -> Config {
    Config {
        segment,
        refresh: cli.refresh(),
        thresholds: Thresholds {
            stale_ns: cli.stale.as_nanos() as u64,
            full_ns: cli.full.as_nanos() as u64,
        },
        screenshot_dir: cli
            .screenshot_dir
            .clone()
            .unwrap_or_else(|| Config::default().screenshot_dir),
        demo,
    }
}

pub(crate) fn interrupted() -> Failure {
    Failure::new("interrupted", "stopped by a signal before it was done")
}

fn pin_self(core: usize) -> Result<(), Failure> {
    let mut set = nix::sched::CpuSet::new();
    set.set(core).map_err(|e| {
        Failure::new("core", format!("core {core} cannot be named: {e}"))
            .hint("pick a core that exists, see `nproc`")
    })?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(|e| {
        Failure::new("core", format!("cannot pin forge-top to core {core}: {e}"))
            .hint("pick a core this process may use, see `taskset -p $$`")
    })
}

/// The file `--file` names, opened; or the live segment, attached at once
/// under `--no-wait`.
fn feed(cli: &Cli, config: &Config) -> Result<Feed, Failure> {
    if let Some(path) = &cli.file {
        return Ok(Feed::File(Box::new(FileSource::open(path, cli.recover)?)));
    }
    let mut source = LiveSource::new(&config.segment);
    if cli.no_wait {
        if let Err(e) = source.try_attach() {
            return Err(Failure::segment(
                &e,
                "start it with forge-init, or run forge-top --demo; without --no-wait forge-top waits for it",
            ));
        }
    }
    Ok(Feed::Live(Box::new(source)))
}

fn tui(cli: &Cli, config: Config, stop: Arc<AtomicBool>) -> Result<(), Failure> {
    let source = feed(cli, &config)?;
    let mut effects = SystemEffects {
        dir: config.screenshot_dir.clone(),
        segment: config.segment.clone(),
    };
    let mut events = LiveEvents::new(source, stop);
    tui::interactive(App::new(config, (120, 40)), &mut events, &mut effects)
}

/// Attaches (waiting up to [`HEADLESS_WAIT`] unless `--no-wait`) and samples
/// for `after`; returns the app holding the result.
fn sample_headless(
    cli: &Cli,
    config: Config,
    after: Duration,
    stop: &AtomicBool,
) -> Result<App, Failure> {
    if cli.file.is_some() {
        // A file needs no waiting and no time: one observation says it all
        // (a recording's at its first frame).
        let mut source = feed(cli, &config)?;
        let mut app = App::new(config, cli.size);
        for _ in 0..2 {
            let obs = source.sample(&app.slot_request());
            app.observe(obs);
        }
        return Ok(app);
    }
    let mut source = LiveSource::new(&config.segment);
    let start = Instant::now();
    loop {
        match source.try_attach() {
            Ok(()) => break,
            Err(e) if cli.no_wait || start.elapsed() >= HEADLESS_WAIT => {
                return Err(Failure::segment(
                    &e,
                    "start it with forge-init (or use --demo); is --segment right?",
                ));
            }
            Err(_) => {
                if sleep_unless_stopped(Duration::from_millis(50), stop) {
                    return Err(interrupted());
                }
            }
        }
    }
    let mut app = App::new(config, cli.size);
    let refresh = app.refresh();
    let start = Instant::now();
    loop {
        let obs = source.sample(&app.slot_request());
        app.observe(obs);
        if start.elapsed() >= after {
            break;
        }
        let nap = refresh
            .min(after.saturating_sub(start.elapsed()))
            .max(Duration::from_millis(1));
        // Once attached, a signal means "now": `--after` is a longest wait,
        // and what was sampled so far is a true picture to hand over.
        if sleep_unless_stopped(nap, stop) {
            break;
        }
    }
    // One more so the slot list matches the final scroll position.
    let obs = source.sample(&app.slot_request());
    app.observe(obs);
    Ok(app)
}

fn snapshot(cli: &Cli, config: Config, path: &Path, stop: &AtomicBool) -> Result<(), Failure> {
    output::snapshot_with(cli, path, |after| sample_headless(cli, config, after, stop))
}

fn once(cli: &Cli, config: Config, stop: &AtomicBool) -> Result<(), Failure> {
    let after = cli.after.unwrap_or(Duration::from_millis(250));
    let app = sample_headless(cli, config, after, stop)?;
    // A file that opened but shows no ring (an empty recording that names
    // no session) is reported, not an error.
    if app.view().sample.is_none() && app.view().offline.is_none() {
        return Err(Failure::new(
            "unreadable",
            format!(
                "could not read {}: {}",
                app.config.segment,
                app.view().reason.as_deref().unwrap_or("unknown")
            ),
        ));
    }
    let out = match cli.format {
        Format::Text => export::text_report(&app),
        Format::Json => export::json(&app) + "\n",
    };
    print_out(&out)
}

fn list(cli: &Cli, stop: &AtomicBool) -> Result<(), Failure> {
    let interval = cli.after.unwrap_or(Duration::from_millis(250));
    let segments =
        source::list_segments(interval).map_err(|e| Failure::new("io", e.to_string()))?;
    if stop.load(Ordering::Relaxed) {
        return Err(interrupted());
    }
    let out = match cli.format {
        Format::Json => {
            serde_json::to_string_pretty(&segments)
                .map_err(|e| Failure::new("serialize", e.to_string()))?
                + "\n"
        }
        Format::Text => list_text(&segments),
    };
    print_out(&out)
}

/// `--list` as a table, one segment per line.
pub fn list_text(segments: &[SegmentSummary]) -> String {
    if segments.is_empty() {
        return "no Forge segment in /dev/shm\n".into();
    }
    let mut rows = vec![[
        "NAME", "STATE", "SESSION", "SLOTS", "HEAD", "FRAMES/S", "PRODUCER", "CONSUMER",
    ]
    .map(String::from)
    .to_vec()];
    for s in segments {
        if let Some(u) = &s.unreadable {
            rows.push(vec![
                s.name.clone(),
                format!(
                    "not readable by you: owner {} (uid {}), mode {}, {}",
                    u.owner.as_deref().unwrap_or("?"),
                    u.uid,
                    u.mode,
                    human::bytes(s.size)
                ),
            ]);
            continue;
        }
        if let Some(e) = &s.error {
            rows.push(vec![s.name.clone(), format!("unusable: {e}")]);
            continue;
        }
        if let Some(successor) = s.successor {
            rows.push(vec![
                s.name.clone(),
                "retired".into(),
                human::session(s.session),
                format!("replaced by session {}", human::session(successor)),
            ]);
            continue;
        }
        let role = |i: usize| {
            s.roles
                .get(i)
                .map_or("-".into(), |r| match (r.pid, r.held) {
                    (0, _) => r.state.to_string(),
                    (pid, Some(true)) => format!("{pid} {}", r.program),
                    (pid, Some(false)) => format!("{pid} {} (gone)", r.program),
                    (pid, None) => format!("{pid} {} (?)", r.program),
                })
        };
        rows.push(vec![
            s.name.clone(),
            s.state.map_or("?".into(), |st| st.to_string()),
            human::session(s.session),
            s.slot_count.to_string(),
            s.head.to_string(),
            s.frames_per_s.map_or("-".into(), human::si),
            role(0),
            role(1),
        ]);
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter(|r| r.len() == cols)
                .filter_map(|r| r.get(c))
                .map(|s| unicode_width::UnicodeWidthStr::width(s.as_str()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad =
                    widths[i].saturating_sub(unicode_width::UnicodeWidthStr::width(cell.as_str()));
                if i + 1 == r.len() {
                    cell.clone()
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
