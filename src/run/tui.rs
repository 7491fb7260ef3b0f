//! The interactive loop: draw when something changed, take the next event,
//! let the app handle it, carry out the effects it asked for. Generic over
//! the ratatui [`Backend`] and the [`EventSource`], so a test drives the
//! whole app on a `TestBackend` with scripted events.

use ratatui::backend::Backend;
use ratatui::Terminal;

use super::effects::Effects;
use super::events::EventSource;
use crate::app::{App, Effect, Outcome};

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
