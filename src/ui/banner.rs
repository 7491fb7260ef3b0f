//! The banner: the worst active alarm on a coloured bar, so it cannot be
//! missed; or, with no alarm, how each role is. The green line appears only
//! when both daemons are running.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::theme::Theme;
use crate::app::layout::one_line;
use crate::app::App;
use crate::model::{Link, Liveness, Role};

/// Draws the banner.
pub fn render(frame: &mut Frame, area: Rect, app: &App, t: &Theme) {
    let active = &app.alarms.active;
    let (text, style) = match active.first() {
        Some(worst) => {
            let count = if active.len() == 1 {
                " ▲ ALARM ".to_string()
            } else {
                format!(" ▲ {} ALARMS ", active.len())
            };
            // Where the rest is: the log, which Tab brings up when the
            // screen has no room for it.
            let log_shown = crate::app::layout::areas(frame.area(), app.focus)
                .events
                .height
                > 0;
            let more = match (active.len(), log_shown) {
                (1, _) => String::new(),
                (n, true) => format!("  (+{} more in the event log)", n - 1),
                (n, false) => format!("  (+{} more: Tab shows the event log)", n - 1),
            };
            (
                format!("{count} {}{more}", worst.text),
                t.banner(worst.severity),
            )
        }
        None => match (&app.view().link, &app.view().sample) {
            (Link::Attached, Some(s)) => {
                let states: Vec<Liveness> =
                    Role::ALL.iter().map(|&r| s.holder(r).liveness).collect();
                if states.iter().all(|&l| l == Liveness::Running) {
                    (
                        " ✓ no alarms: producer and consumer running, session matches, ring sound"
                            .into(),
                        t.good,
                    )
                } else {
                    (
                        format!(
                            " · no alarms · producer {} · consumer {}",
                            states[0].name(),
                            states[1].name()
                        ),
                        t.warn,
                    )
                }
            }
            _ => (" … not attached".into(), t.warn),
        },
    };
    let text = one_line(&text, area.width);
    let pad = usize::from(area.width)
        .saturating_sub(unicode_width::UnicodeWidthStr::width(text.as_str()));
    let text = if active.is_empty() {
        text
    } else {
        format!("{text}{}", " ".repeat(pad))
    };
    super::draw::put_lines(frame, area, [Line::from(Span::styled(text, style))]);
}
