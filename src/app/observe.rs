//! Observations in: alarms first (always live), then the live view, its
//! rates and histories; a whole-ring copy becomes the frozen image or a
//! search's matches. Also what came back from the effects asked for.

use super::liveness::judge_roles;
use super::rates::{rate, RateStep};
use super::state::*;
use crate::alarms::Severity;
use crate::model::*;

impl App {
    /// The burst was sent to the pid returned, or refused: said on the
    /// status line; a sent one is watched in the log.
    pub fn burst_done(&mut self, result: Result<u32, BurstError>) {
        match result {
            Ok(pid) => {
                self.alarms.burst_sent(
                    pid,
                    self.live.sample.as_ref(),
                    self.last_mono_ns,
                    self.live.unix_ns,
                );
                self.note(
                    Severity::Info,
                    format!("load burst: sent SIGUSR1 to producer pid {pid} (the segment is not written)"),
                );
            }
            Err(e) => self.note(Severity::Warning, e.to_string()),
        }
    }

    /// A screenshot was saved (the status says where) or not: a lost
    /// screenshot is said as an alarm would be.
    pub fn screenshot_done(&mut self, result: Result<String, SaveError>) {
        match result {
            Ok(saved) => self.note(Severity::Info, saved),
            Err(e) => self.note(Severity::Critical, e.to_string()),
        }
    }

    /// Where a seek took the cursor, or why it did not move.
    pub fn sought(&mut self, result: Result<String, SeekError>) {
        match result {
            Ok(m) => self.note(Severity::Info, m),
            Err(e) => self.note(Severity::Warning, e.to_string()),
        }
    }

    /// Takes one observation into the live view (and the alarms).
    pub fn observe(&mut self, mut obs: Observation) {
        self.samples += 1;
        self.last_mono_ns = obs.mono_ns;
        if let Some(s) = &mut obs.sample {
            judge_roles(s, self.config.thresholds.stale_ns);
        }
        self.alarms.update(&obs, self.config.thresholds);
        if self.status.as_ref().is_some_and(|st| {
            st.at_mono_ns != 0 && obs.mono_ns.saturating_sub(st.at_mono_ns) > STATUS_NS
        }) {
            self.status = None;
        }
        let ring = obs.ring.take();
        self.take_into_live(&obs);
        if self.follow && !self.paused() {
            if let Some(d) = &obs.detail {
                self.selected = d.copy.index;
                self.selected_position = d.copy.position;
            }
            if let Some(first) = obs.slots.first() {
                self.list_first = first.copy.index;
            }
        }
        if let Some(img) = ring {
            self.want_ring = false;
            self.take_ring(img, &obs);
        }
        // A live search is found again in a fresh copy every second or so,
        // so its list never shows what the ring held long ago.
        if let Some(search) = &self.search {
            if !self.paused()
                && !self.finds_frames()
                && search.matches.is_some()
                && obs.sample.is_some()
                && obs.mono_ns.saturating_sub(search.copied_mono_ns) >= SEARCH_REFRESH_NS
            {
                self.want_ring = true;
            }
        }
        if let Some(f) = &mut self.frozen {
            f.samples += 1;
        }
        self.slots_dirty = false;
        let n = self.slot_count();
        if n > 0 && self.selected >= n {
            self.selected = 0;
        }
        self.rescroll();
    }

    /// A whole-ring copy came: it becomes the frozen image (moved, never
    /// copied again) when a freeze waits for one, and the current search's
    /// matches are found in it.
    fn take_ring(&mut self, img: RingView, obs: &Observation) {
        let (head, tail) = obs.sample.as_ref().map_or((0, 0), |s| (s.head(), s.tail()));
        let freezing = self.frozen.as_ref().is_some_and(|f| f.image.is_none());
        let refresh = self
            .search
            .as_ref()
            .is_some_and(|s| s.matches.is_some() && !self.paused());
        if refresh {
            self.found_again(&img);
        } else {
            self.found(&img);
        }
        if !freezing {
            return;
        }
        let (took, skipped, held) = (img.took_ns, img.skipped, img.bytes_held());
        let slots = img.slots.len();
        if let Some(f) = &mut self.frozen {
            f.image = Some(img);
            f.head = head;
            f.tail = tail;
        }
        self.note(
            Severity::Info,
            format!(
                "frozen: {slots} slots copied in {} ({} held until thawed){}; s saves it; space thaws",
                human::duration_ns(took),
                human::bytes(held),
                if skipped > 0 {
                    format!("; {skipped} slots past the copy limit left out")
                } else {
                    String::new()
                }
            ),
        );
    }

    pub(super) fn take_into_live(&mut self, obs: &Observation) {
        let v = &mut self.live;
        v.offline = obs.offline.clone();
        v.link = obs.link.clone();
        v.reason = obs.reason.clone();
        v.unix_ns = obs.unix_ns;
        v.me = obs.me.clone();
        // Our CPU time ticks at 10 ms: average it over a few seconds, each
        // reading at the moment it was read.
        let read_at = if obs.me.read_mono_ns != 0 {
            obs.me.read_mono_ns
        } else {
            obs.mono_ns
        };
        if self.cpu_history.back().is_none_or(|(t, _)| *t != read_at) {
            self.cpu_history.push_back((read_at, obs.me.cpu_time_ns));
        }
        while self
            .cpu_history
            .get(1)
            .is_some_and(|(t, _)| obs.mono_ns.saturating_sub(*t) >= 5_000_000_000)
        {
            self.cpu_history.pop_front();
        }
        if let (Some(a), Some(b)) = (self.cpu_history.front(), self.cpu_history.back()) {
            let dt = b.0.saturating_sub(a.0);
            if dt > 0 {
                v.me_cpu_pct = b.1.saturating_sub(a.1) as f64 * 100.0 / dt as f64;
            }
        }
        if let Some(s) = &obs.sample {
            // Rates need a real interval: selection moves sample early.
            let min_dt = (self.refresh.as_nanos() as u64 / 2).max(1);
            let rated = rate(&mut self.prev, s, obs.mono_ns, min_dt, &mut v.rates);
            if rated == RateStep::NewSession {
                // Nothing of the old session's history belongs on its screen.
                v.history = History::default();
            }
            if rated == RateStep::Rated {
                History::push(&mut v.history.frames, v.rates.frames_per_s as u64);
                History::push(&mut v.history.bytes, v.rates.bytes_per_s as u64);
            }
            if rated != RateStep::TooSoon {
                History::push(&mut v.history.fill, (s.fill_ratio() * 1000.0) as u64);
                self.alarms.rates(obs, &v.rates);
            }
            v.sample = obs.sample.clone();
            v.sample_unix_ns = obs.unix_ns;
            v.sample_mono_ns = obs.mono_ns;
            v.slots = obs.slots.clone();
            v.detail = obs.detail.clone();
        } else if obs.link == Link::Waiting && v.sample.is_none() {
            v.slots.clear();
            v.detail = None;
        }
        // A lost segment keeps its last good sample and slots on screen.
    }
}
