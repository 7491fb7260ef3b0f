//! Everything that reaches the app: one enum for keys, mouse, resizes,
//! samples and the stop signal. Where events come from is the loop's
//! business ([`crate::run::events`]).

use crossterm::event::{KeyEvent, MouseEvent};

use crate::model::{HostObservation, Observation};

/// One thing for the app to handle.
#[derive(Debug, Clone)]
pub enum Event {
    /// A key press.
    Key(KeyEvent),
    /// A mouse wheel or click.
    Mouse(MouseEvent),
    /// The terminal changed size.
    Resize(u16, u16),
    /// A sample of the segment.
    Data(Box<Observation>),
    /// A sample of every ring of the host (the host view).
    Host(Box<HostObservation>),
    /// A signal asked us to stop (SIGTERM, SIGHUP, SIGINT).
    Stop,
}
