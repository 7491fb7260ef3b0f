//! The title line (name, session, state, badges, clock) and the info line
//! (path, size, layout, geometry).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::App;
use crate::model::human;
use crate::model::{Coded, Link, SegmentState};

use super::theme;

fn badge(text: &str, bg: Color) -> Span<'static> {
    Span::styled(
        format!(" {text} "),
        Style::new()
            .fg(Color::Black)
            .bg(bg)
            .add_modifier(Modifier::BOLD),
    )
}

/// The title line.
pub fn render_title(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let mut spans = vec![
        Span::styled(
            " forge-top ",
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(" "),
        Span::styled(
            app.config.segment.clone(),
            theme::value().add_modifier(Modifier::BOLD),
        ),
        Span::raw("  "),
    ];
    if let Some(s) = &view.sample {
        spans.push(Span::styled("session ", theme::label()));
        spans.push(Span::styled(human::session(s.session_id()), theme::value()));
        spans.push(Span::styled(
            format!(" age {}  ", human::duration_ns(s.age_ns)),
            theme::label(),
        ));
        let state = s.state();
        let bg = match state {
            Coded::Known(SegmentState::Live) => Color::Green,
            Coded::Known(SegmentState::Initializing) => Color::Yellow,
            Coded::Known(SegmentState::Retired) | Coded::Unknown(_) => Color::Red,
        };
        let text = match state {
            Coded::Known(known) => known.name().to_uppercase(),
            Coded::Unknown(code) => format!("STATE {code}?"),
        };
        spans.push(badge(&text, bg));
        spans.push(Span::raw(" "));
    }
    match view.link {
        Link::Attached => {}
        Link::Waiting => {
            spans.push(badge("WAITING", Color::Yellow));
            spans.push(Span::raw(" "));
        }
        Link::Lost => {
            spans.push(badge("LOST: LAST GOOD VIEW", Color::Red));
            spans.push(Span::raw(" "));
        }
    }
    spans.push(badge("READ-ONLY", Color::Blue));
    spans.push(Span::raw(" "));
    if app.paused() {
        spans.push(badge("PAUSED", Color::Magenta));
        spans.push(Span::raw(" "));
    } else if app.follow {
        spans.push(badge("FOLLOW", Color::DarkGray));
        spans.push(Span::raw(" "));
    }
    if app.config.demo {
        spans.push(badge("DEMO", Color::DarkGray));
    }
    let clock = format!("{} UTC ", human::time_of_day(view.unix_ns));
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let pad = (area.width as usize).saturating_sub(used + clock.len());
    spans.push(Span::raw(" ".repeat(pad)));
    spans.push(Span::styled(clock, theme::label()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The info line.
pub fn render_info(frame: &mut Frame, area: Rect, app: &App) {
    let view = app.view();
    let line = match &view.sample {
        Some(s) => {
            let l = theme::label();
            let v = theme::value();
            let id = &s.header.identity;
            Line::from(vec![
                Span::styled(" ", l),
                Span::styled(s.path.clone(), v),
                Span::styled("  ", l),
                Span::styled(human::bytes(s.header.file_size), v),
                Span::styled("  layout ", l),
                Span::styled(format!("v{}", id.layout_version), v),
                Span::styled("  ", l),
                Span::styled(format!("{} × {} B", s.slot_count(), id.slot_size), v),
                Span::styled(" slots, payload ", l),
                Span::styled(format!("{} B", id.payload_capacity), v),
                Span::styled("  init pid ", l),
                Span::styled(id.init_pid.to_string(), v),
                Span::styled("  created ", l),
                Span::styled(format!("{} UTC", human::date_time(id.created_unix_ns)), v),
            ])
        }
        None => Line::from(Span::styled(
            format!(" path /dev/shm{}  (not attached)", app.config.segment),
            theme::label(),
        )),
    };
    frame.render_widget(Paragraph::new(line), area);
}
