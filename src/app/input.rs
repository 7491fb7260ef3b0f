//! Input: one event in, one `match` over the actions the binding table
//! names; the arrows go to the focused panel.

use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use super::help;
use super::layout::{self, Focus};
use super::state::*;
use crate::alarms::Severity;
use crate::event::Event;
use crate::keys::{self, Action};
use crate::model::*;

impl App {
    pub(super) fn seek(&mut self, to: Seek) {
        if self.mode() == keys::When::Recording {
            self.seek = Some(to);
            self.slots_dirty = true;
        } else {
            self.note(
                Severity::Info,
                "only a recording has a cursor: forge-top --file FILE.mcap".into(),
            );
        }
    }

    /// Handles one event.
    pub fn handle(&mut self, event: Event) -> Outcome {
        match event {
            Event::Key(key) => self.key(key),
            Event::Mouse(m) => self.mouse(m),
            Event::Resize(w, h) => {
                self.size = (w, h);
                self.rescroll();
                self.host_rescroll();
                Outcome::Redraw
            }
            Event::Data(obs) => {
                self.observe(*obs);
                Outcome::Redraw
            }
            Event::Host(obs) => {
                self.observe_host(*obs);
                Outcome::Redraw
            }
            Event::Stop => {
                self.quit = true;
                Outcome::Unchanged
            }
        }
    }

    pub(super) fn key(&mut self, key: KeyEvent) -> Outcome {
        // A message answers the key before it; the next key clears it.
        self.status = None;
        if self.prompt.is_some() {
            self.prompt_key(key);
            return Outcome::Redraw;
        }
        if self.picker.is_some() {
            self.picker_key(key);
            return Outcome::Redraw;
        }
        if self.on_host() {
            return self.host_key(key);
        }
        let Some(action) = keys::action(key) else {
            return Outcome::Unchanged;
        };
        // The help closes on Esc, ? or q, scrolls, and does nothing else.
        if self.help {
            let page = i64::from(self.size.1.saturating_sub(6));
            let by = match action {
                Action::Escape | Action::Help | Action::Quit => {
                    self.help = false;
                    self.help_scroll = 0;
                    return Outcome::Redraw;
                }
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -page,
                Action::PageDown => page,
                Action::First => i64::MIN / 2,
                Action::Last => i64::MAX / 2,
                _ => return Outcome::Unchanged,
            };
            let max = i64::from(help::max_scroll(self.size, self.screen));
            self.help_scroll = (i64::from(self.help_scroll) + by).clamp(0, max) as u16;
            return Outcome::Redraw;
        }
        self.act(action);
        Outcome::Redraw
    }

    /// Every action, in one place.
    pub(super) fn act(&mut self, action: Action) {
        let page = i64::from(self.list_rows().max(1));
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.help = true,
            Action::Escape => {
                if self.search.take().is_some() {
                    self.note(Severity::Info, "search cleared".into());
                } else {
                    self.back_to_host();
                }
            }
            Action::Up => self.scroll(-1),
            Action::Down => self.scroll(1),
            Action::PageUp => self.scroll(-page),
            Action::PageDown => self.scroll(page),
            Action::First | Action::Last if self.filtering() => {
                let (at, n) = self
                    .search
                    .as_ref()
                    .map_or((0, 0), |s| (s.at as i64, s.rows.len() as i64));
                let to = if action == Action::First { 0 } else { n - 1 };
                self.next_match(to - at);
            }
            Action::First => self.select(0),
            Action::Last => self.select(self.slot_count().saturating_sub(1)),
            Action::Tail => {
                if let Some(s) = &self.view().sample {
                    let (tail, slot) = (s.tail(), slot_of(s.tail(), s.slot_count()));
                    self.select(slot);
                    self.note(
                        Severity::Info,
                        format!("tail: slot {slot}, the next frame the consumer reads (position {tail})"),
                    );
                }
            }
            Action::Head => {
                let Some(s) = &self.view().sample else { return };
                let (newest, head, batch, n) =
                    (s.newest, s.head(), s.header.producer.batch, s.slot_count());
                match newest {
                    Some(pos) => {
                        let slot = slot_of(pos, n);
                        self.select(slot);
                        let lag = RingPosition::new(pos)
                            .plus(1)
                            .since(RingPosition::new(head));
                        let note = if lag > 0 {
                            format!(
                                "newest frame: position {pos}, slot {slot} ({lag} past head {head}: head is stored every {batch} frames)"
                            )
                        } else {
                            format!("newest frame: position {pos}, slot {slot}")
                        };
                        self.note(Severity::Info, note);
                    }
                    None => self.note(Severity::Info, "no frame was ever published".into()),
                }
            }
            Action::Follow => {
                self.follow = !self.follow;
                self.slots_dirty = true;
                let what = if self.follow {
                    "on: the newest frame stays selected"
                } else {
                    "off"
                };
                self.note(Severity::Info, format!("follow {what}"));
            }
            Action::Hex => {
                self.detail_mode = match self.detail_mode {
                    DetailMode::Decoded => DetailMode::Hex,
                    DetailMode::Hex => DetailMode::Decoded,
                };
                self.detail_scroll = 0;
            }
            Action::Freeze => self.toggle_freeze(),
            Action::Burst if self.live.offline.is_some() => self.note(
                Severity::Info,
                "offline: there is no process to signal".into(),
            ),
            Action::Burst => self.burst(),
            Action::Save => self.effects.push(Effect::Screenshot),
            Action::ClearLog => {
                self.alarms.log.clear();
                self.log_scroll = 0;
                self.note(Severity::Info, "event log cleared".into());
            }
            Action::Faster => self.step_refresh(-1),
            Action::Slower => self.step_refresh(1),
            Action::Jump => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Jump,
                    text: String::new(),
                })
            }
            Action::Search => {
                self.prompt = Some(Prompt {
                    kind: PromptKind::Search,
                    text: String::new(),
                })
            }
            Action::NextMatch if self.finds_frames() => self.find_frame(true),
            Action::PrevMatch if self.finds_frames() => self.find_frame(false),
            Action::NextMatch => self.next_match(1),
            Action::PrevMatch => self.next_match(-1),
            Action::Focus => {
                self.focus = self.focus.next();
                let name = match self.focus {
                    Focus::Slots => "slot list",
                    Focus::Detail => "slot detail",
                    Focus::Events => "event log",
                };
                self.note(Severity::Info, format!("focus: {name} (↑↓ scroll it)"));
            }
            Action::LogLevel => {
                self.log_filter = match self.log_filter {
                    LogFilter::All => LogFilter::Warnings,
                    LogFilter::Warnings => LogFilter::Alarms,
                    LogFilter::Alarms => LogFilter::All,
                };
                self.log_scroll = 0;
                self.note(
                    Severity::Info,
                    format!("event log shows: {}", self.log_filter.name()),
                );
            }
            Action::Open if self.live.offline.is_some() => self.note(
                Severity::Info,
                "a file is open: quit and start forge-top without --file to pick a segment".into(),
            ),
            Action::Open => {
                self.picker = Some(Picker::default());
                self.effects.push(Effect::ListSegments);
            }
            Action::FrameBack => self.seek(Seek::Frames(-1)),
            Action::FrameOn => self.seek(Seek::Frames(1)),
            Action::SecondBack => self.seek(Seek::Seconds(-1.0)),
            Action::SecondOn => self.seek(Seek::Seconds(1.0)),
            Action::Play => self.seek(Seek::TogglePlay),
            Action::PlaySlower => self.seek(Seek::Speed(0.5)),
            Action::PlayFaster => self.seek(Seek::Speed(2.0)),
        }
    }

    pub(super) fn prompt_key(&mut self, key: KeyEvent) {
        let Some(prompt) = &mut self.prompt else {
            return;
        };
        let filter = prompt.kind == PromptKind::Filter;
        match key.code {
            KeyCode::Esc => {
                self.prompt = None;
                if filter {
                    self.filter_typed(None);
                }
            }
            KeyCode::Backspace => {
                prompt.text.pop();
                let text = prompt.text.clone();
                if filter {
                    self.filter_typed(Some(&text));
                }
            }
            KeyCode::Enter => {
                let Prompt { kind, text } = self.prompt.take().expect("a prompt is open");
                match kind {
                    PromptKind::Jump => self.jump(text.trim()),
                    PromptKind::Search => self.start_search(text.trim()),
                    PromptKind::Filter => self.filter_typed(Some(&text)),
                }
            }
            KeyCode::Char(c) if !c.is_control() && prompt.text.len() < 64 => {
                prompt.text.push(c);
                let text = prompt.text.clone();
                if filter {
                    self.filter_typed(Some(&text));
                }
            }
            _ => {}
        }
    }

    pub(super) fn mouse(&mut self, m: MouseEvent) -> Outcome {
        if self.on_host() {
            return self.host_mouse(m);
        }
        let areas = layout::screen(self.size, self.focus);
        match m.kind {
            MouseEventKind::ScrollUp => self.scroll(-3),
            MouseEventKind::ScrollDown => self.scroll(3),
            MouseEventKind::Down(MouseButton::Left) => {
                let list = areas.slot_list_inner();
                if list.contains(Position::new(m.column, m.row)) {
                    let row = m.row - list.y;
                    match &self.search {
                        Some(search) if self.filtering() => {
                            let k = search.first + usize::from(row);
                            if k < search.rows.len() {
                                let by = k as i64 - search.at as i64;
                                self.next_match(by);
                            }
                        }
                        _ => {
                            let i = self.list_first + u32::from(row);
                            if i < self.slot_count() {
                                self.select(i);
                            }
                        }
                    }
                }
            }
            _ => return Outcome::Unchanged,
        }
        Outcome::Redraw
    }

    /// Arrows on the focused panel.
    pub(super) fn scroll(&mut self, by: i64) {
        match self.focus {
            // A search filters the list: the arrows step through its matches.
            Focus::Slots if self.filtering() => self.next_match(by),
            Focus::Slots => self.step(by),
            Focus::Detail => {
                self.detail_scroll = (i64::from(self.detail_scroll) + by).clamp(0, 4096) as u16
            }
            Focus::Events => {
                let len = self.alarms.log.len() as i64;
                self.log_scroll = (self.log_scroll as i64 + by).clamp(0, len.max(0)) as usize
            }
        }
    }

    pub(super) fn step_refresh(&mut self, dir: i64) {
        self.refresh = super::host::stepped(self.refresh, dir);
        let ms = self.refresh.as_millis();
        self.note(Severity::Info, format!("refresh every {ms} ms"));
    }

    pub(super) fn step(&mut self, by: i64) {
        let n = self.slot_count();
        if n == 0 {
            return;
        }
        let i = (i64::from(self.selected) + by).rem_euclid(i64::from(n));
        self.select(i as u32);
    }

    pub(super) fn select(&mut self, i: u32) {
        self.follow = false;
        self.selected = i;
        self.detail_scroll = 0;
        // The position the slot holds now: from a copy of it when there is
        // one, else from the newest frame (slot i last held the position
        // below it that is i modulo the slot count).
        let view = self.view();
        let frozen = self
            .frozen
            .as_ref()
            .and_then(|f| f.image.as_ref())
            .and_then(|img| img.slots.get(i as usize));
        self.selected_position = frozen
            .or_else(|| view.slots.iter().find(|s| s.copy.index == i))
            .or_else(|| view.detail.as_ref().filter(|d| d.copy.index == i))
            .map(|s| s.copy.position)
            .unwrap_or_else(|| {
                let s = view.sample.as_ref()?;
                let n = s.slot_count();
                let newest = RingPosition::new(s.newest?);
                (n.is_power_of_two() && i < n)
                    .then(|| newest.plus(1).last_in_slot_before(i, n).get())
            });
        self.slots_dirty = true;
        self.rescroll();
    }

    pub(super) fn rescroll(&mut self) {
        self.list_first = scroll_to(
            self.list_first,
            self.list_rows(),
            self.selected,
            self.slot_count(),
        );
    }

    pub(super) fn toggle_freeze(&mut self) {
        if let Some(f) = self.frozen.take() {
            // The copy goes now: its memory is given back.
            drop(f.image);
            let in_ring = !self.finds_frames();
            let again = match &mut self.search {
                // Matches found in the copy are the copy's: find them
                // again in the live ring.
                Some(search) if in_ring => {
                    search.matches = None;
                    search.rows.clear();
                    self.want_ring = true;
                    format!("; finding {:?} again in the live ring", search.query)
                }
                _ => String::new(),
            };
            self.note(
                Severity::Info,
                format!(
                    "live again ({} samples taken while frozen){again}",
                    f.samples
                ),
            );
            self.slots_dirty = true;
        } else {
            self.frozen = Some(Frozen {
                image: None,
                head: 0,
                tail: 0,
                samples: 0,
            });
            self.want_ring = true;
            self.note(
                Severity::Info,
                "freezing: copying the whole ring; sampling and alarms go on; space thaws".into(),
            );
        }
    }

    pub(super) fn burst(&mut self) {
        let producer = self.live.sample.as_ref().map(|s| s.side(Role::Producer));
        match producer {
            Some(p) if p.holder.liveness == Liveness::Running && p.holder.verified => {
                self.effects.push(Effect::Burst(p.line.pid))
            }
            Some(p) if p.holder.alive == Some(true) && !p.holder.verified => self.note(
                Severity::Warning,
                format!(
                    "no burst: {}; forge-top signals only a process it can prove holds the role",
                    p.holder
                        .holder_note
                        .as_deref()
                        .unwrap_or("the producer could not be proven to be this process")
                ),
            ),
            Some(p) if p.line.pid != 0 => self.note(
                Severity::Warning,
                format!(
                    "no burst: the producer (pid {}) is {}",
                    p.line.pid,
                    p.holder.liveness.name()
                ),
            ),
            _ => self.note(
                Severity::Warning,
                "no burst: there is no live producer".into(),
            ),
        }
    }
}
