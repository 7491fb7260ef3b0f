//! Carrying out what the app asks for: signals, files, listing segments.
//! The app only names an [`Effect`]; the loop hands it to an [`Effects`],
//! the system's or, in tests, one that records what was asked.

use std::path::PathBuf;
use std::time::Duration;

use ratatui::buffer::Buffer;

use crate::app::{App, Effect};
use crate::export;
use crate::model::SegmentSummary;
use crate::source;

/// Carries out effects.
pub trait Effects {
    /// Sends the burst signal; returns a status line.
    fn burst(&mut self, pid: u32) -> Result<String, String>;
    /// Saves a bundle of `buffer`; returns a status line.
    fn screenshot(&mut self, app: &App, buffer: &Buffer) -> Result<String, String>;
    /// Lists the Forge segments there are.
    fn list(&mut self) -> Result<Vec<SegmentSummary>, String>;
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
    fn burst(&mut self, pid: u32) -> Result<String, String> {
        self.asked.push(Effect::Burst(pid));
        Ok(format!("sent SIGUSR1 to producer pid {pid}"))
    }

    fn screenshot(&mut self, _app: &App, buffer: &Buffer) -> Result<String, String> {
        self.asked.push(Effect::Screenshot);
        self.screenshots.push(crate::export::buffer_text(buffer));
        Ok("saved screenshot".into())
    }

    fn list(&mut self) -> Result<Vec<SegmentSummary>, String> {
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
    fn burst(&mut self, pid: u32) -> Result<String, String> {
        source::burst_producer(&self.segment, pid)
    }

    fn screenshot(&mut self, app: &App, buffer: &Buffer) -> Result<String, String> {
        let dir = export::screenshot_dir(&self.dir)
            .map_err(|e| format!("could not save a screenshot: {e}"))?;
        // The raw ring beside it: the frozen copy, or one taken now.
        let image = match app.frozen_raw() {
            Some(img) => Ok(Some(img.clone())),
            None if app.live.offline.is_some() => Ok(None),
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
        let stem = export::save_bundle(&dir, app, buffer, img.as_ref()).map_err(|e| {
            format!(
                "could not save a screenshot into {}: {e}",
                self.dir.display()
            )
        })?;
        match (missing, img.is_some()) {
            (Some(e), _) => Err(format!(
                "saved {}.{{svg,txt,json}}, but not the image: {e}",
                stem.display()
            )),
            (None, true) => Ok(format!("saved {}.{{svg,txt,json,forge}}", stem.display())),
            (None, false) => Ok(format!("saved {}.{{svg,txt,json}}", stem.display())),
        }
    }

    fn list(&mut self) -> Result<Vec<SegmentSummary>, String> {
        source::list_segments(Duration::from_millis(100))
    }

    fn switched(&mut self, segment: &str) {
        self.segment = segment.to_owned();
    }
}
