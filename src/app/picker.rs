//! The segment picker: `o` lists what `/dev/shm` holds; Enter watches the
//! chosen segment from then on.

use crossterm::event::KeyEvent;

use super::state::*;
use crate::alarms::Severity;
use crate::keys::{self, PickerAction};
use crate::model::*;

impl App {
    pub(super) fn picker_key(&mut self, key: KeyEvent) {
        let Some(picker) = &mut self.picker else {
            return;
        };
        let n = picker.entries.len();
        let Some(action) = keys::lookup(keys::PICKER, &key) else {
            return;
        };
        match action {
            PickerAction::Close => self.picker = None,
            PickerAction::Up if n > 0 => picker.selected = (picker.selected + n - 1) % n,
            PickerAction::Down if n > 0 => picker.selected = (picker.selected + 1) % n,
            PickerAction::Up | PickerAction::Down => {}
            PickerAction::Refresh => self.effects.push(Effect::ListSegments),
            PickerAction::Open => {
                if let Some(entry) = picker.entries.get(picker.selected) {
                    let name = entry.name.clone();
                    self.picker = None;
                    if name != self.config.segment {
                        self.switch_segment(name);
                    }
                }
            }
        }
    }

    /// Watches `name` from now on.
    pub(super) fn switch_segment(&mut self, name: String) {
        self.note(Severity::Info, format!("watching {name}"));
        self.alarms.log(
            self.live.unix_ns,
            Severity::Info,
            format!("switched to segment {name}"),
        );
        self.config.segment = name.clone();
        self.switch_to = Some(name);
        self.live = View::default();
        self.frozen = None;
        self.search = None;
        self.prev = None;
        self.follow = true;
        self.selected = 0;
        self.list_first = 0;
        self.alarms.forget_segment();
    }

    /// The picker's list arrived.
    pub fn listed(&mut self, result: Result<Vec<SegmentSummary>, ListError>) {
        let picker = self.picker.get_or_insert_with(Picker::default);
        match result {
            Ok(entries) => {
                picker.selected = entries
                    .iter()
                    .position(|e| e.name == self.config.segment)
                    .unwrap_or(0);
                picker.entries = entries;
                picker.error = None;
            }
            Err(e) => picker.error = Some(e.to_string()),
        }
    }
}
