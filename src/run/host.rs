//! The host view's modes: the live table of every ring, `--once` (the same
//! table for scripts, text or JSON) and `--snapshot`.
//!
//! ```text
//!  HostSource ─▶ Event::Host ─▶ app (one Alarms per ring) ─▶ ui::host / export ─▶ screen, stdout, file
//! ```

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::effects::SystemEffects;
use super::events::LiveEvents;
use super::output::{print_out, snapshot_with};
use super::stop::sleep_unless_stopped;
use super::tui::interactive;
use crate::app::{App, Config};
use crate::cli::{Cli, Format, Mode, MIN_REFRESH};
use crate::event::Event;
use crate::export;
use crate::failure::Failure;
use crate::source::HostSource;

/// Runs what the command line asks of the host view.
pub fn run(cli: &Cli, config: Config, mode: &Mode, stop: Arc<AtomicBool>) -> Result<(), Failure> {
    match mode {
        Mode::Once => once(cli, config, &stop),
        Mode::Snapshot(path) => snapshot_with(cli, path, |after| sample(cli, config, after, &stop)),
        _ => {
            let mut effects = SystemEffects {
                dir: config.screenshot_dir.clone(),
                segment: String::new(),
            };
            let mut events = LiveEvents::host(HostSource::new(), stop);
            let app = App::for_host(
                config,
                (120, 40),
                cli.host_refresh(),
                cli.filter.as_deref().unwrap_or(""),
            );
            interactive(app, &mut events, &mut effects)
        }
    }
}

/// Samples every ring for `after` (at least twice, so rates are real) and
/// returns the app holding the result. A signal ends the wait early: what
/// was sampled then is handed over.
pub fn sample(
    cli: &Cli,
    config: Config,
    after: Duration,
    stop: &AtomicBool,
) -> Result<App, Failure> {
    // Rates need two samples; --after says how far apart, at most.
    let refresh = cli.host_refresh().min(after).max(MIN_REFRESH);
    let mut app = App::for_host(
        config,
        cli.size,
        refresh,
        cli.filter.as_deref().unwrap_or(""),
    );
    let mut source = HostSource::new();
    let start = Instant::now();
    app.handle(Event::Host(Box::new(source.sample())));
    loop {
        let left = after.saturating_sub(start.elapsed());
        if left.is_zero() || sleep_unless_stopped(refresh.min(left), stop) {
            break;
        }
        app.handle(Event::Host(Box::new(source.sample())));
    }
    if app.host.as_ref().is_some_and(|h| h.samples < 2) {
        app.handle(Event::Host(Box::new(source.sample())));
    }
    Ok(app)
}

fn once(cli: &Cli, config: Config, stop: &AtomicBool) -> Result<(), Failure> {
    let after = cli.after.unwrap_or(Duration::from_millis(250));
    let app = sample(cli, config, after, stop)?;
    let out = match cli.format {
        Format::Text => app
            .host
            .as_ref()
            .map(crate::ui::host::text)
            .unwrap_or_default(),
        Format::Json => export::host_json(&app) + "\n",
    };
    print_out(&out)
}
