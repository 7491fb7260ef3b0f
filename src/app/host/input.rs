//! The host view's input: one `match` over the actions of its binding
//! table ([`crate::keys::HOST`]), the mouse, Enter into the ring view and
//! Esc back.

use std::time::Duration;

use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use super::HostColumn;
use crate::alarms::Severity;
use crate::app::help;
use crate::app::layout::{self, HostFocus};
use crate::app::state::*;
use crate::keys::{self, HostAction};
use crate::model::*;

impl App {
    /// Is the host view up?
    pub fn on_host(&self) -> bool {
        self.screen == Screen::Host && self.host.is_some()
    }

    /// How often the host is sampled, when there is a host view.
    pub fn host_refresh(&self) -> Option<Duration> {
        self.host.as_ref().map(|h| h.refresh)
    }

    /// Takes one sample of the host.
    pub fn observe_host(&mut self, obs: HostObservation) {
        self.last_mono_ns = obs.mono_ns;
        self.live.unix_ns = self.live.unix_ns.max(obs.unix_ns);
        let th = self.config.thresholds;
        if let Some(h) = &mut self.host {
            h.observe(obs, th);
        }
        if self.status.as_ref().is_some_and(|st| {
            st.at_mono_ns != 0 && self.last_mono_ns.saturating_sub(st.at_mono_ns) > STATUS_NS
        }) {
            self.status = None;
        }
        self.host_rescroll();
    }

    /// Rows of rings the table shows at the current size.
    pub fn host_rows(&self) -> usize {
        let focus = self.host.as_ref().map_or(HostFocus::Rings, |h| h.focus);
        usize::from(layout::host_screen(self.size, focus).table_rows())
    }

    /// Keeps the selected ring on screen.
    pub(in crate::app) fn host_rescroll(&mut self) {
        let rows_shown = self.host_rows();
        let Some(h) = &self.host else { return };
        let rows = h.rows();
        let n = rows.len();
        let at = h.selected_index(&rows);
        let first = match at {
            Some(i) => scroll_to(h.first as u32, rows_shown as u32, i as u32, n as u32) as usize,
            None => h.first.min(n.saturating_sub(rows_shown)),
        };
        if let Some(h) = &mut self.host {
            h.first = first;
        }
    }

    /// Moves the selection `by` rows (clamped at either end).
    fn host_step(&mut self, by: i64) {
        let Some(h) = &mut self.host else { return };
        let names: Vec<String> = h.rows().iter().map(|r| r.name.clone()).collect();
        if names.is_empty() {
            return;
        }
        let at = h
            .selected
            .as_ref()
            .and_then(|s| names.iter().position(|n| n == s))
            .unwrap_or(0) as i64;
        let to = (at + by).clamp(0, names.len() as i64 - 1) as usize;
        h.selected = Some(names[to].clone());
        self.host_rescroll();
    }

    /// A key in the host view.
    pub(in crate::app) fn host_key(&mut self, key: KeyEvent) -> Outcome {
        let Some(action) = keys::host_action(key) else {
            return Outcome::Unchanged;
        };
        if self.help {
            let page = i64::from(self.size.1.saturating_sub(6));
            let by = match action {
                HostAction::Escape | HostAction::Help | HostAction::Quit => {
                    self.help = false;
                    self.help_scroll = 0;
                    return Outcome::Redraw;
                }
                HostAction::Up => -1,
                HostAction::Down => 1,
                HostAction::PageUp => -page,
                HostAction::PageDown => page,
                HostAction::First => i64::MIN / 2,
                HostAction::Last => i64::MAX / 2,
                _ => return Outcome::Unchanged,
            };
            let max = i64::from(help::max_scroll(self.size, Screen::Host));
            self.help_scroll = (i64::from(self.help_scroll) + by).clamp(0, max) as u16;
            return Outcome::Redraw;
        }
        self.host_act(action);
        Outcome::Redraw
    }

    fn host_act(&mut self, action: HostAction) {
        let page = self.host_rows().max(1) as i64;
        let events = self
            .host
            .as_ref()
            .is_some_and(|h| h.focus == HostFocus::Events);
        match action {
            HostAction::Quit => self.quit = true,
            HostAction::Help => self.help = true,
            HostAction::Escape => {
                if let Some(h) = &mut self.host {
                    if !h.filter.is_empty() {
                        h.filter.clear();
                        self.note(Severity::Info, "filter cleared: every ring".into());
                        self.host_rescroll();
                    }
                }
            }
            HostAction::Up | HostAction::Down | HostAction::PageUp | HostAction::PageDown => {
                let by = match action {
                    HostAction::Up => -1,
                    HostAction::Down => 1,
                    HostAction::PageUp => -page,
                    _ => page,
                };
                if events {
                    self.host_scroll_log(by);
                } else {
                    self.host_step(by);
                }
            }
            HostAction::First => self.host_step(i64::MIN / 2),
            HostAction::Last => self.host_step(i64::MAX / 2),
            HostAction::Open => self.open_selected(),
            HostAction::Filter => {
                if let Some(h) = &mut self.host {
                    h.filter_was = h.filter.clone();
                    self.prompt = Some(Prompt {
                        kind: PromptKind::Filter,
                        text: h.filter.clone(),
                    });
                }
            }
            HostAction::SortLeft | HostAction::SortRight | HostAction::Reverse => {
                if let Some(h) = &mut self.host {
                    match action {
                        HostAction::SortLeft => h.sort = h.sort.step(-1),
                        HostAction::SortRight => h.sort = h.sort.step(1),
                        _ => h.reversed = !h.reversed,
                    }
                    if action != HostAction::Reverse {
                        h.reversed = false;
                    }
                    let down = h.sort.descends() != h.reversed;
                    let order = match (down, h.sort) {
                        (false, HostColumn::Name | HostColumn::State) => "▲ (A to Z)",
                        (true, HostColumn::Name | HostColumn::State) => "▼ (Z to A)",
                        (false, HostColumn::Alarm) => "▲ (no alarm first)",
                        (true, HostColumn::Alarm) => "▼ (worst first)",
                        (false, _) => "▲ (smallest first)",
                        (true, _) => "▼ (largest first)",
                    };
                    let text = format!("sorted by {} {order}", h.sort.name());
                    self.note(Severity::Info, text);
                }
                self.host_rescroll();
            }
            HostAction::Save => self.effects.push(Effect::Screenshot),
            HostAction::Faster | HostAction::Slower => {
                let dir = if action == HostAction::Faster { -1 } else { 1 };
                if let Some(h) = &mut self.host {
                    h.refresh = stepped(h.refresh, dir);
                    let ms = h.refresh.as_millis();
                    self.note(Severity::Info, format!("host sampled every {ms} ms"));
                }
            }
            HostAction::ClearLog => {
                if let Some(h) = &mut self.host {
                    h.events.log.clear();
                    h.log_scroll = 0;
                }
                self.note(Severity::Info, "event log cleared".into());
            }
            HostAction::Focus => {
                if let Some(h) = &mut self.host {
                    h.focus = match h.focus {
                        HostFocus::Rings => HostFocus::Events,
                        HostFocus::Events => HostFocus::Rings,
                    };
                    let name = match h.focus {
                        HostFocus::Rings => "ring table",
                        HostFocus::Events => "event log",
                    };
                    self.note(Severity::Info, format!("focus: {name} (↑↓ scroll it)"));
                }
                self.host_rescroll();
            }
            HostAction::LogLevel => {
                self.log_filter = match self.log_filter {
                    LogFilter::All => LogFilter::Warnings,
                    LogFilter::Warnings => LogFilter::Alarms,
                    LogFilter::Alarms => LogFilter::All,
                };
                if let Some(h) = &mut self.host {
                    h.log_scroll = 0;
                }
                self.note(
                    Severity::Info,
                    format!("event log shows: {}", self.log_filter.name()),
                );
            }
        }
    }

    fn host_scroll_log(&mut self, by: i64) {
        if let Some(h) = &mut self.host {
            let len = h.events.log.len() as i64;
            h.log_scroll = (h.log_scroll as i64 + by).clamp(0, len.max(0)) as usize;
        }
    }

    /// The filter prompt changed (typed, erased, kept or given up).
    pub(in crate::app) fn filter_typed(&mut self, text: Option<&str>) {
        if let Some(h) = &mut self.host {
            h.filter = match text {
                Some(t) => t.trim().to_lowercase(),
                None => std::mem::take(&mut h.filter_was),
            };
        }
        if let Some(h) = &mut self.host {
            if h.selected
                .as_ref()
                .is_none_or(|s| !h.rings.get(s).is_some_and(|r| r.matches(&h.filter)))
            {
                h.selected = h.rows().first().map(|r| r.name.clone());
            }
        }
        self.host_rescroll();
    }

    /// Enter: the selected ring in the ring view.
    fn open_selected(&mut self) {
        let Some(h) = &self.host else { return };
        let Some(ring) = h.selected.as_ref().and_then(|s| h.rings.get(s)) else {
            self.note(Severity::Info, "no ring selected".into());
            return;
        };
        if let RingStatus::Unreadable {
            reason: UnreadableReason::Permission,
            owner,
            ..
        } = &ring.status
        {
            let whose = owner.as_ref().map_or(String::new(), |o| {
                format!(
                    " (owner {} uid {}, mode {})",
                    o.owner.as_deref().unwrap_or("?"),
                    o.uid,
                    o.mode
                )
            });
            let text = format!(
                "{} is not readable by you{whose}: forge-top cannot open it",
                ring.name
            );
            self.note(Severity::Warning, text);
            return;
        }
        let name = ring.name.clone();
        self.screen = Screen::Ring;
        if name != self.config.segment {
            self.switch_segment(name);
        } else {
            // The same ring again: its source is kept, sampled at once.
            self.slots_dirty = true;
        }
    }

    /// Esc in the ring view: back to the host view, when there is one.
    pub(in crate::app) fn back_to_host(&mut self) -> bool {
        if self.host.is_none() {
            return false;
        }
        self.screen = Screen::Host;
        self.frozen = None;
        self.host_rescroll();
        true
    }

    pub(in crate::app) fn host_mouse(&mut self, m: MouseEvent) -> Outcome {
        let focus = self.host.as_ref().map_or(HostFocus::Rings, |h| h.focus);
        let areas = layout::host_screen(self.size, focus);
        match m.kind {
            MouseEventKind::ScrollUp => self.host_step(-3),
            MouseEventKind::ScrollDown => self.host_step(3),
            MouseEventKind::Down(MouseButton::Left) => {
                let list = areas.table_inner();
                if !list.contains(Position::new(m.column, m.row)) {
                    return Outcome::Unchanged;
                }
                let Some(h) = &mut self.host else {
                    return Outcome::Unchanged;
                };
                let k = h.first + usize::from(m.row - list.y);
                if let Some(name) = h.rows().get(k).map(|r| r.name.clone()) {
                    h.selected = Some(name);
                }
            }
            _ => return Outcome::Unchanged,
        }
        Outcome::Redraw
    }
}

/// The refresh preset next to `now` in direction `dir`.
pub(in crate::app) fn stepped(now: Duration, dir: i64) -> Duration {
    let now = now.as_millis() as u64;
    let presets = keys::REFRESH_PRESETS_MS;
    // The preset at or next to the current refresh, then one step.
    let at = presets
        .iter()
        .position(|&p| p >= now)
        .unwrap_or(presets.len() - 1) as i64;
    let at = if presets[at as usize] != now && dir < 0 {
        at
    } else {
        at + dir
    };
    Duration::from_millis(presets[at.clamp(0, presets.len() as i64 - 1) as usize])
}
