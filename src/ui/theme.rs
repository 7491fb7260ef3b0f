//! One theme, passed to every renderer: the only place colours are named.

use ratatui::style::{Color, Modifier, Style};

use crate::alarms::Severity;
use crate::model::{Liveness, Side};

/// Every style forge-top draws with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Panel titles.
    pub title: Style,
    /// Labels, units, quiet text.
    pub label: Style,
    /// Values.
    pub value: Style,
    /// All is well.
    pub good: Style,
    /// Look at it.
    pub warn: Style,
    /// Something is wrong.
    pub bad: Style,
    /// Highlights (the selection marker, keys, markers).
    pub accent: Style,
    /// A second highlight (T/H markers, a busy slot).
    pub accent2: Style,
    /// The selected row: every cell of it, whatever its own colour, so no
    /// cell can vanish into the bar.
    pub selected: Style,
    /// Panel borders.
    pub border: Style,
    /// Borders of a panel whose data is no longer live.
    pub border_lost: Style,
    /// The border of the focused panel.
    pub border_focus: Style,
    /// Key caps in the status line.
    pub key: Style,
    /// The app's own badge.
    pub badge_app: Style,
    /// A healthy state badge.
    pub badge_good: Style,
    /// A warning badge.
    pub badge_warn: Style,
    /// A bad-state badge.
    pub badge_bad: Style,
    /// A neutral badge.
    pub badge_info: Style,
    /// A quiet badge.
    pub badge_quiet: Style,
    /// The frozen badge.
    pub badge_frozen: Style,
    /// Bars below the warning level.
    pub bar_low: Style,
    /// Bars at the warning level.
    pub bar_mid: Style,
    /// Bars at the alarm level.
    pub bar_high: Style,
    /// Sparkline of rates.
    pub spark: Style,
}

impl Default for Theme {
    fn default() -> Self {
        let badge = |fg: Color, bg: Color| Style::new().fg(fg).bg(bg).add_modifier(Modifier::BOLD);
        Theme {
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            label: Style::new().fg(Color::DarkGray),
            value: Style::new().fg(Color::White),
            good: Style::new().fg(Color::Green),
            warn: Style::new().fg(Color::Yellow),
            bad: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            accent: Style::new().fg(Color::Cyan),
            accent2: Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            selected: Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            border: Style::new().fg(Color::DarkGray),
            border_lost: Style::new().fg(Color::Red),
            border_focus: Style::new().fg(Color::Cyan),
            key: Style::new().fg(Color::Black).bg(Color::DarkGray),
            badge_app: badge(Color::Black, Color::Cyan),
            badge_good: badge(Color::Black, Color::Green),
            badge_warn: badge(Color::Black, Color::Yellow),
            badge_bad: badge(Color::White, Color::Red),
            badge_info: badge(Color::Black, Color::Blue),
            badge_quiet: badge(Color::Black, Color::DarkGray),
            badge_frozen: badge(Color::Black, Color::Magenta),
            bar_low: Style::new().fg(Color::Green),
            bar_mid: Style::new().fg(Color::Yellow),
            bar_high: Style::new().fg(Color::Red),
            spark: Style::new().fg(Color::Cyan),
        }
    }
}

impl Theme {
    /// `line` as the selected row: text the colour of the bar (quiet
    /// labels, a `-`) is drawn light instead, so it cannot vanish into it.
    pub fn select(&self, line: ratatui::text::Line<'static>) -> ratatui::text::Line<'static> {
        let spans = line
            .spans
            .into_iter()
            .map(|s| {
                let mut style = s.style.patch(self.selected);
                if style.fg.is_some() && style.fg == self.selected.bg {
                    style.fg = Some(Color::Gray);
                }
                s.style(style)
            })
            .collect::<Vec<_>>();
        ratatui::text::Line::from(spans).style(self.selected)
    }

    /// Text of a log line or an alarm of `severity`.
    pub fn severity(&self, severity: Severity) -> Style {
        match severity {
            Severity::Info => self.accent,
            Severity::Warning => self.warn,
            Severity::Critical => self.bad,
        }
    }

    /// The banner of an alarm of `severity`.
    pub fn banner(&self, severity: Severity) -> Style {
        match severity {
            Severity::Info => self.badge_info,
            Severity::Warning => self.badge_warn,
            Severity::Critical => self.badge_bad,
        }
    }
}

/// A role's liveness as every panel draws it: its glyph, its label (the
/// glyph and `Side::state_word`, a vacant role bare) and its style.
pub fn liveness_badge(side: Side<'_>, t: &Theme) -> (&'static str, String, Style) {
    let (glyph, style) = match side.holder.liveness {
        Liveness::Running => ("●", t.good),
        Liveness::Stalled => ("◐", t.bad),
        Liveness::Dead => ("✗", t.bad),
        Liveness::Stopped => ("■", t.warn),
        Liveness::Vacant => ("-", t.label),
        Liveness::Unknown => ("?", t.warn),
    };
    let label = match side.holder.liveness {
        Liveness::Vacant => side.state_word().to_owned(),
        _ => format!("{glyph} {}", side.state_word()),
    };
    (glyph, label, style)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::text::{Line, Span};

    #[test]
    fn nothing_on_the_selected_row_takes_the_colour_of_its_bar() {
        let t = Theme::default();
        let line = Line::from(vec![
            Span::styled("vacant", t.label),
            Span::styled("live", t.good),
        ]);
        let selected = t.select(line);
        for span in &selected.spans {
            assert_ne!(span.style.fg, t.selected.bg, "{span:?}");
            assert_eq!(span.style.bg, t.selected.bg, "{span:?}");
        }
        assert_eq!(selected.spans[1].style.fg, t.good.fg);
    }
}
