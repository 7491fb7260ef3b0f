//! Carrying out what the app asks for: signals, files, listing segments.
//! The app only names an [`Effect`]; the loop hands it to an [`Effects`],
//! the system's or, in tests, one that records what was asked.

use std::path::PathBuf;
use std::time::Duration;

use ratatui::buffer::Buffer;

use crate::app::{App, Effect};
use crate::export;
use crate::model::{BurstError, ListError, SaveError, SegmentSummary};
use crate::source;

/// Carries out effects.
pub trait Effects {
    /// Sends the burst signal to `pid`, once proven to hold the role;
    /// returns the pid signalled.
    fn burst(&mut self, pid: u32) -> Result<u32, BurstError>;
    /// Saves a bundle of `buffer`; returns a status line.
    fn screenshot(&mut self, app: &App, buffer: &Buffer) -> Result<String, SaveError>;
    /// Lists the Forge segments there are.
    fn list(&mut self) -> Result<Vec<SegmentSummary>, ListError>;
    /// The app now watches `segment` (signals go to its producer).
    fn switched(&mut self, _segment: &str) {}
}

/// Effects that do nothing but remember what was asked, for tests.
#[derive(Debug, Default)]
pub struct RecordedEffects {
    /// Every effect asked for, in order.
    pub asked: Vec<Effect>,
    /// Text of each screenshot taken.
    pub screenshots: Vec<String>,
    /// What `list` answers.
    pub segments: Vec<SegmentSummary>,
}

impl Effects for RecordedEffects {
    fn burst(&mut self, pid: u32) -> Result<u32, BurstError> {
        self.asked.push(Effect::Burst(pid));
        Ok(pid)
    }

    fn screenshot(&mut self, _app: &App, buffer: &Buffer) -> Result<String, SaveError> {
        self.asked.push(Effect::Screenshot);
        self.screenshots.push(crate::export::buffer_text(buffer));
        Ok("saved screenshot".into())
    }

    fn list(&mut self) -> Result<Vec<SegmentSummary>, ListError> {
        self.asked.push(Effect::ListSegments);
        Ok(self.segments.clone())
    }
}

/// Carries out effects for real.
pub struct SystemEffects {
    /// Where screenshots and images go.
    pub dir: PathBuf,
    /// The segment watched (signals go to its producer).
    pub segment: String,
}

impl Effects for SystemEffects {
    fn burst(&mut self, pid: u32) -> Result<u32, BurstError> {
        source::burst_producer(&self.segment, pid)
    }

    fn screenshot(&mut self, app: &App, buffer: &Buffer) -> Result<String, SaveError> {
        let bundle = |reason: String| SaveError::Bundle {
            dir: self.dir.clone(),
            reason,
        };
        let dir = export::screenshot_dir(&self.dir).map_err(bundle)?;
        // The raw ring beside it: the frozen copy, or one taken now.
        let image = match app.frozen_raw() {
            Some(img) => Ok(Some(img)),
            // Every ring of the host is no one ring's image.
            None if app.live.offline.is_some() || app.on_host() => Ok(None),
            None => forge_fabric::Observer::open(&self.segment, Duration::ZERO)
                .map_err(|e| e.to_string())
                .and_then(|o| {
                    let writer = format!("forge-top {}", env!("CARGO_PKG_VERSION"));
                    forge_record::image::RingImage::capture(&o, &writer).map_err(|e| e.to_string())
                })
                .map(Some),
        };
        let (img, missing) = match image {
            Ok(img) => (img, None),
            Err(e) => (None, Some(e)),
        };
        let stem = export::save_bundle(&dir, app, buffer, img.as_ref()).map_err(bundle)?;
        match (missing, img.is_some()) {
            (Some(reason), _) => Err(SaveError::Image { stem, reason }),
            (None, true) => Ok(format!("saved {}.{{svg,txt,json,forge}}", stem.display())),
            (None, false) => Ok(format!("saved {}.{{svg,txt,json}}", stem.display())),
        }
    }

    fn list(&mut self) -> Result<Vec<SegmentSummary>, ListError> {
        source::list_segments(Duration::from_millis(100))
    }

    fn switched(&mut self, segment: &str) {
        self.segment = segment.to_owned();
    }
}
