//! The waiting screen: shown until a segment appears at the name.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::draw::block;
use super::theme::Theme;
use crate::app::layout::words;
use crate::app::App;

const SPINNER: [&str; 4] = ["|", "/", "-", "\\"];

/// Draws the panel.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let view = app.view();
    let spin = SPINNER[(app.samples % 4) as usize];
    let outer = block(&["Waiting".into()], app, t, area.width, false);
    let inner = outer.inner(area);
    frame.render_widget(outer, area);
    let w = inner.width.saturating_sub(2);
    let mut lines = vec![Line::raw("")];
    let mut para = |text: &str, style: Style| {
        for l in words(text, w) {
            lines.push(Line::from(Span::styled(format!("  {l}"), style)));
        }
    };
    para(
        &format!(
            "{spin} waiting for {}: checking every {} ms, attaching as soon as it appears",
            app.config.segment,
            app.refresh.as_millis()
        ),
        t.warn,
    );
    para("", t.label);
    para(view.reason.as_deref().unwrap_or("not opened yet"), t.value);
    para("", t.label);
    para(&bring_up(&app.config.segment), t.label);
    super::draw::put_lines(frame, inner, lines);
}

/// The commands that bring up a ring at `segment` (the default one needs
/// no `--segment`).
pub fn bring_up(segment: &str) -> String {
    let s = if segment == crate::model::DEFAULT_SEGMENT {
        String::new()
    } else {
        format!(" --segment {segment}")
    };
    format!(
        "To bring one up: forge-init{s} && (forge-stream{s} & forge-core{s} &), or a private demo ring at once: forge-top --demo. o picks another segment; forge-top --list lists them."
    )
}
