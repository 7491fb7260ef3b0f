//! The modes: the live TUI, `--snapshot`, `--once`, and the demo guard.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use color_eyre::eyre::{bail, eyre, Result, WrapErr};
use color_eyre::Section;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use crate::alarms::Thresholds;
use crate::app::{self, App, Config, Effects};
use crate::cli::{Cli, Format};
use crate::demo::Demo;
use crate::event::LiveEvents;
use crate::export;
use crate::model::SegmentError;
use crate::source::{self, LiveSource};

/// How long headless modes wait for a missing segment.
const HEADLESS_WAIT: Duration = Duration::from_secs(5);

/// Runs what the command line asks for.
pub fn main(cli: Cli) -> Result<()> {
    if let Some(segment) = &cli.demo_guard {
        crate::demo::run_guard(segment, &cli.guard_pids);
        return Ok(());
    }
    if let Some(core) = cli.core {
        pin_self(core)?;
    }
    // The signal handlers set this flag; readers load it `Relaxed`: it is a
    // lone flag that publishes no other data, so it pairs with nothing.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, stop.clone())
            .wrap_err("cannot install signal handlers")?;
    }
    let demo = if cli.demo {
        Some(Demo::start(Some(cli.demo_rate))?)
    } else {
        None
    };
    let segment = demo
        .as_ref()
        .map_or(cli.segment.clone(), |d| d.segment.clone());
    source::validate_name(&segment).map_err(|e| eyre!(e))?;
    let config = Config {
        segment: segment.clone(),
        refresh: Duration::from_millis(cli.refresh),
        thresholds: Thresholds {
            stale_ns: cli.stale_ms.saturating_mul(1_000_000),
            full_ns: cli.full_ms.saturating_mul(1_000_000),
        },
        screenshot_dir: cli.screenshot_dir.clone(),
        demo: demo.is_some(),
    };
    let result = if let Some(path) = &cli.snapshot {
        snapshot(&cli, config, path, &stop)
    } else if cli.once {
        once(&cli, config, &stop)
    } else {
        tui(&cli, config, stop)
    };
    drop(demo);
    result
}

fn pin_self(core: usize) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(core)
        .map_err(|e| eyre!("core {core} cannot be named: {e}"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| eyre!("cannot pin forge-top to core {core}: {e}"))
        .suggestion("pick a core that exists, see `nproc`")
}

/// Carries out effects for real.
struct SystemEffects {
    dir: PathBuf,
    segment: String,
}

impl Effects for SystemEffects {
    fn burst(&mut self, pid: u32) -> Result<String, String> {
        crate::source::burst_producer(&self.segment, pid)
    }

    fn screenshot(&mut self, app: &App, buffer: &Buffer) -> Result<String, String> {
        export::save_bundle(&self.dir, app, buffer)
            .map(|stem| format!("saved {}.{{svg,txt,json}}", stem.display()))
            .map_err(|e| format!("could not save screenshot into {}: {e}", self.dir.display()))
    }
}

fn tui(cli: &Cli, config: Config, stop: Arc<AtomicBool>) -> Result<()> {
    let mut source = LiveSource::new(&config.segment);
    if cli.no_wait {
        if let Err(e) = source.try_attach() {
            let hint = attach_hint(
                &e,
                "start it with forge-init, or run forge-top --demo; without --no-wait forge-top waits for it",
            );
            return Err(eyre!(e)).suggestion(hint);
        }
    }
    let mut events = LiveEvents::new(source, stop);
    let mut effects = SystemEffects {
        dir: config.screenshot_dir.clone(),
        segment: config.segment.clone(),
    };
    let mut terminal = ratatui::init();
    // ratatui's hook restores the terminal on panic; also stop mouse reports.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        hook(info);
    }));
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    let size = terminal
        .size()
        .map(|s| (s.width, s.height))
        .unwrap_or((120, 40));
    let mut app = App::new(config, size);
    let result = app::run(&mut terminal, &mut app, &mut events, &mut effects);
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    result.wrap_err("terminal error")
}

/// Attaches (waiting up to [`HEADLESS_WAIT`] unless `--no-wait`) and samples
/// for `after`; returns the app holding the result.
fn sample_headless(cli: &Cli, config: Config, after: Duration, stop: &AtomicBool) -> Result<App> {
    let mut source = LiveSource::new(&config.segment);
    let start = Instant::now();
    loop {
        match source.try_attach() {
            Ok(()) => break,
            Err(e)
                if cli.no_wait
                    || start.elapsed() >= HEADLESS_WAIT
                    || stop.load(Ordering::Relaxed) =>
            {
                let hint = attach_hint(
                    &e,
                    "start it with forge-init (or use --demo); is --segment right?",
                );
                return Err(eyre!(e)).suggestion(hint);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let mut app = App::new(config, cli.size);
    let refresh = app.refresh();
    let start = Instant::now();
    loop {
        let obs = source.sample(&app.slot_request());
        app.observe(obs);
        if start.elapsed() >= after || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(
            refresh
                .min(after.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(1)),
        );
    }
    // One more so the slot list matches the final scroll position.
    let obs = source.sample(&app.slot_request());
    app.observe(obs);
    Ok(app)
}

fn snapshot(cli: &Cli, config: Config, path: &std::path::Path, stop: &AtomicBool) -> Result<()> {
    let after = Duration::from_millis(cli.after.unwrap_or(1000));
    let app = sample_headless(cli, config, after, stop)?;
    let buffer = render_buffer(&app);
    export::write_frame(path, &app, &buffer)
        .wrap_err_with(|| format!("cannot write {}", path.display()))?;
    eprintln!("forge-top: wrote {}", path.display());
    Ok(())
}

/// What to suggest when attaching failed, by the kind of error: `missing`
/// when the segment is not there, otherwise advice that fits what is there.
fn attach_hint(error: &SegmentError, missing: &str) -> String {
    match error {
        SegmentError::NotForge { .. }
        | SegmentError::Malformed { .. }
        | SegmentError::TooLong { .. } => {
            "something else is at that name: replace it with forge-init --force, or pick another --segment".into()
        }
        SegmentError::Version { .. } => {
            "the segment was made by another build: re-create it with this build's forge-init --force".into()
        }
        SegmentError::NotRegular { what: "a directory", .. } => {
            "remove the directory (rmdir) or pick another --segment; forge-init --force removes it if it is empty".into()
        }
        SegmentError::NotRegular { .. } => {
            "remove what is at that name (Forge never follows links), then run forge-init; forge-init --force replaces it".into()
        }
        SegmentError::TooShort { .. } => {
            "the file is smaller than its header says (truncated?): re-create it with forge-init --force".into()
        }
        SegmentError::PermissionDenied { .. } => {
            "the segment belongs to another user; run forge-top as that user, or ask for a group mode (forge-init --mode 640)".into()
        }
        _ => missing.to_owned(),
    }
}

/// Renders the app once on an off-screen terminal of its size.
pub fn render_buffer(app: &App) -> Buffer {
    let (w, h) = app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend never fails");
    terminal
        .draw(|f| crate::ui::render(f, app))
        .expect("test backend never fails");
    terminal.backend().buffer().clone()
}

fn once(cli: &Cli, config: Config, stop: &AtomicBool) -> Result<()> {
    let after = Duration::from_millis(cli.after.unwrap_or(250));
    let app = sample_headless(cli, config, after, stop)?;
    match cli.format {
        Format::Text => print!("{}", export::text_report(&app)),
        Format::Json => println!("{}", export::json(&app)),
    }
    if app.view().sample.is_none() {
        bail!(
            "could not read {}: {}",
            app.config.segment,
            app.view().reason.as_deref().unwrap_or("unknown")
        );
    }
    Ok(())
}
