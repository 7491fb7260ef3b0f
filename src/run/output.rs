//! What the headless modes hand over: one frame rendered off-screen and
//! written to a file (`--snapshot`), text on stdout (`--once`, `--list`).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::Terminal;

use crate::app::App;
use crate::cli::Cli;
use crate::export;
use crate::failure::Failure;

/// Writes one frame of the app `sample` returns (after sampling for
/// `--after`, 1 s by default) to `path`, refused before sampling if `path`
/// exists and `--force` was not given.
pub(crate) fn snapshot_with(
    cli: &Cli,
    path: &Path,
    sample: impl FnOnce(Duration) -> Result<App, Failure>,
) -> Result<(), Failure> {
    let cannot_write = |e: forge_cli::output::OutputError| {
        let hint = e.hint("--force");
        let failure = Failure::new("io", format!("cannot write the snapshot: {e}"));
        match hint {
            Some(h) => failure.hint(h),
            None => failure,
        }
    };
    // Refused before sampling, not after it; the write decides for real.
    if let Some(what) = forge_cli::output::what_is(path).filter(|_| !cli.force) {
        return Err(cannot_write(forge_cli::output::OutputError::Exists {
            path: path.to_owned(),
            what,
        }));
    }
    let after = cli.after.unwrap_or(Duration::from_secs(1));
    let app = sample(after)?;
    let buffer = render_buffer(&app);
    export::write_frame(path, &app, &buffer, cli.force).map_err(cannot_write)?;
    eprintln!("forge-top: wrote {}", path.display());
    Ok(())
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

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a word.
pub(crate) fn print_out(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(Failure::from),
    }
}
