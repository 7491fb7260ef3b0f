//! Finding slots: `/` over one copy of the whole ring (or, in a recording,
//! through the file), `n`/`N` through the matches, `:` to a position.

use super::state::*;
use crate::alarms::Severity;
use crate::keys;
use crate::model::*;

impl App {
    pub(super) fn jump(&mut self, text: &str) {
        if self.mode() == keys::When::Recording {
            // A recording jumps its cursor: to a sequence, or a time of day.
            if let Ok(seq) = text.replace([',', '_'], "").parse::<u64>() {
                self.seek(Seek::Sequence(seq));
            } else if let Some(t) = self.time_of_day(text) {
                self.seek(Seek::Time(t));
            } else {
                self.note(
                    Severity::Warning,
                    format!("{text:?} is neither a sequence number nor a time like 12:00:03.5"),
                );
            }
            return;
        }
        let Some(s) = self.view().sample.as_ref() else {
            return;
        };
        let Ok(seq) = text.replace([',', '_'], "").parse::<u64>() else {
            self.note(
                Severity::Warning,
                format!("{text:?} is not a sequence number"),
            );
            return;
        };
        // The ring holds at most a lap of positions, up to the newest (fewer
        // while it is young, which the slot's own copy then says).
        let n = u64::from(s.slot_count());
        let newest = RingPosition::new(s.newest.unwrap_or(0));
        let oldest = newest.plus(1).minus(n);
        if s.newest.is_none() || !RingPosition::new(seq).within(oldest, n) {
            let held = match s.newest {
                Some(_) => format!("the ring holds positions {oldest}..{newest}"),
                None => "the ring holds no frame yet".into(),
            };
            self.note(
                Severity::Warning,
                format!("sequence {seq} is not in the ring: {held}"),
            );
            return;
        }
        let slot = slot_of(seq, s.slot_count());
        self.select(slot);
        self.note(Severity::Info, format!("position {seq}: slot {slot}"));
    }

    /// `HH:MM[:SS[.fff]]` on the day of the recording's cursor, UTC.
    pub(super) fn time_of_day(&self, text: &str) -> Option<u64> {
        forge_cli::units::parse_time_of_day(text, self.live.unix_ns)
    }

    pub(super) fn start_search(&mut self, query: &str) {
        if query.is_empty() {
            self.search = None;
            return;
        }
        self.search = Some(Search {
            query: query.to_owned(),
            matches: None,
            rows: Vec::new(),
            copied_unix_ns: 0,
            copied_mono_ns: 0,
            at: 0,
            first: 0,
        });
        if self.finds_frames() {
            // A recording: the cursor goes to the first matching frame from
            // here on, anywhere in the file; the ring rebuilt there then
            // lists what matches around it.
            self.note(
                Severity::Info,
                format!("searching the recording for {query:?}…"),
            );
            self.seek(Seek::Find {
                query: query.to_owned(),
                forward: true,
                skip: false,
            });
            self.want_ring = true;
            return;
        }
        // Matches come from one copy of the whole ring.
        match self.frozen.as_mut().and_then(|f| f.image.take()) {
            Some(img) => {
                self.found(&img);
                if let Some(f) = &mut self.frozen {
                    f.image = Some(img);
                }
            }
            None => self.want_ring = true,
        }
        self.note(Severity::Info, format!("searching the ring for {query:?}…"));
    }

    /// Does the current search look for frames through a recording (a text
    /// or a kind, not a slot state) rather than in one copy of the ring?
    pub(super) fn finds_frames(&self) -> bool {
        self.mode() == keys::When::Recording
            && self
                .search
                .as_ref()
                .is_some_and(|s| !is_state_query(&s.query))
    }

    /// `n` / `N` in a recording: the cursor to the next / previous matching
    /// frame of the file, and the ring's matches found again there.
    pub(super) fn find_frame(&mut self, forward: bool) {
        let Some(search) = &mut self.search else {
            return;
        };
        search.matches = None;
        search.rows.clear();
        let query = search.query.clone();
        self.seek(Seek::Find {
            query,
            forward,
            skip: true,
        });
        self.want_ring = true;
    }

    /// The matches of the current search in `img`; selects the first.
    pub(super) fn found(&mut self, img: &RingView) {
        let recording = self.mode() == keys::When::Recording;
        let Some(search) = &mut self.search else {
            return;
        };
        let rows: Vec<SlotView> = img
            .slots
            .iter()
            .filter(|s| slot_matches(s, &search.query))
            .map(SlotView::row)
            .collect();
        let count = rows.len();
        let query = search.query.clone();
        search.matches = Some(rows.iter().map(|r| r.copy.index).collect());
        search.rows = rows;
        search.copied_unix_ns = img.unix_ns;
        search.copied_mono_ns = img.mono_ns;
        // In a recording the cursor's frame is the newest of the rebuilt
        // ring, and the one a search moved the cursor to: start there.
        search.at = if recording {
            search
                .rows
                .iter()
                .enumerate()
                .max_by_key(|(_, r)| r.copy.position)
                .map_or(0, |(i, _)| i)
        } else {
            0
        };
        search.first = 0;
        if recording {
            // The cursor's move said what was found; the list now shows
            // the matches around it.
            if count > 0 {
                self.next_match(0);
            }
        } else if count == 0 {
            self.note(
                Severity::Warning,
                format!("no slot matches {query:?} (searched one copy of the whole ring)"),
            );
        } else {
            self.next_match(0);
            self.note(
                Severity::Info,
                format!("{count} slots match {query:?}; n / N for the next / previous"),
            );
        }
    }

    /// The current search found again in a fresh copy: the matches and
    /// their rows are replaced, the selection stays where it is (on the
    /// same slot when it still matches), and nothing is said.
    pub(super) fn found_again(&mut self, img: &RingView) {
        let rows_on_screen = self.list_rows();
        let selected = self.selected;
        let Some(search) = &mut self.search else {
            return;
        };
        let rows: Vec<SlotView> = img
            .slots
            .iter()
            .filter(|s| slot_matches(s, &search.query))
            .map(SlotView::row)
            .collect();
        let matches: Vec<u32> = rows.iter().map(|r| r.copy.index).collect();
        search.at = matches
            .iter()
            .position(|&i| i == selected)
            .unwrap_or(search.at.min(matches.len().saturating_sub(1)));
        search.first = scroll_to(
            search.first as u32,
            rows_on_screen,
            search.at as u32,
            matches.len() as u32,
        ) as usize;
        search.matches = Some(matches);
        search.rows = rows;
        search.copied_unix_ns = img.unix_ns;
        search.copied_mono_ns = img.mono_ns;
    }

    pub(super) fn next_match(&mut self, by: i64) {
        let Some(search) = &mut self.search else {
            self.note(Severity::Info, "no search: / to find slots".into());
            return;
        };
        let Some(matches) = search.matches.as_ref().filter(|m| !m.is_empty()) else {
            return;
        };
        let n = matches.len() as i64;
        search.at = (search.at as i64 + by).rem_euclid(n) as usize;
        let slot = matches[search.at];
        let at = search.at + 1;
        let rows = self.list_rows();
        if let Some(search) = &mut self.search {
            search.first =
                scroll_to(search.first as u32, rows, search.at as u32, n as u32) as usize;
        }
        self.select(slot);
        if by != 0 {
            self.note(Severity::Info, format!("match {at} of {n}: slot {slot}"));
        }
    }
}

/// Does a slot match a search: a state (`pend`, `done`, `free`, `torn`), a
/// frame kind, or text in the body (case-insensitive)?
pub fn slot_matches(s: &SlotView, query: &str) -> bool {
    let q = query.to_lowercase();
    let state = match s.copy.state {
        SlotState::Pending => "pend",
        SlotState::Consumed => "done",
        SlotState::Free => "free",
    };
    if q == state || q == s.copy.state.name() || (q == "torn" && s.torn) {
        return true;
    }
    s.frame.as_ref().is_some_and(|f| f.matches(&q))
}
