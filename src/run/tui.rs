//! The interactive loop: draw when something changed, take the next event,
//! let the app handle it, carry out the effects it asked for. Generic over
//! the ratatui [`Backend`] and the [`EventSource`], so a test drives the
//! whole app on a `TestBackend` with scripted events.

use ratatui::backend::Backend;
use ratatui::Terminal;

use super::effects::{Effects, SystemEffects};
use super::events::{EventSource, LiveEvents};
use crate::app::{App, Effect, Outcome};
use crate::failure::Failure;

/// Runs the app until it quits or the events end.
pub fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut impl EventSource,
    effects: &mut impl Effects,
) -> std::io::Result<()> {
    let mut dirty = true;
    loop {
        if dirty {
            let completed = terminal.draw(|f| crate::ui::render(f, app))?;
            if app.effects.contains(&Effect::Screenshot) {
                app.effects.retain(|e| *e != Effect::Screenshot);
                let buffer = completed.buffer.clone();
                let result = effects.screenshot(app, &buffer);
                app.screenshot_done(result);
                continue;
            }
        }
        if app.quit {
            return Ok(());
        }
        let Some(event) = events.next(app)? else {
            return Ok(());
        };
        dirty = app.handle(event) == Outcome::Redraw;
        if let Some(name) = app.switch_to.take() {
            events.switch(&name);
            effects.switched(&name);
        }
        if let Some(to) = app.seek.take() {
            let result = events.seek(to);
            app.sought(result);
        }
        for effect in std::mem::take(&mut app.effects) {
            match effect {
                Effect::Burst(pid) => {
                    let result = effects.burst(pid);
                    app.burst_done(result);
                }
                Effect::ListSegments => {
                    let result = effects.list();
                    app.listed(result);
                }
                Effect::Screenshot => app.effects.push(Effect::Screenshot),
            }
            dirty = true;
        }
    }
}

/// Runs `app` on the terminal until it quits: the terminal set up (mouse
/// reports on), the loop, the terminal restored on every path.
pub fn interactive(
    mut app: App,
    events: &mut LiveEvents,
    effects: &mut SystemEffects,
) -> Result<(), Failure> {
    let mut terminal = ratatui::try_init()
        .map_err(|e| Failure::new("terminal", format!("cannot set up the terminal: {e}")))?;
    // ratatui's hook restores the terminal on panic; also stop mouse reports.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
        hook(info);
    }));
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture);
    if let Ok(s) = terminal.size() {
        app.size = (s.width, s.height);
    }
    let result = run(&mut terminal, &mut app, events, effects);
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    result.map_err(|e| Failure::new("terminal", format!("terminal error: {e}")))
}
