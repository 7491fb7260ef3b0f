//! The app: state and input, and nothing of the screen or the process.
//!
//! ```text
//!  Event::Data ─▶ observe: alarms (always live) ─▶ live view ─▶ rates, history
//!  Event::Key  ─▶ keys::action ─▶ act (one match) ─▶ selection, prompt, effects
//!  freeze      ─▶ the next observation brings the whole ring ─▶ frozen view
//! ```
//!
//! [`state`] holds the data, [`input`], [`search`], [`picker`] and
//! [`observe`] change it, [`host`] is the host view (every ring, each
//! judged by the same rules), [`layout`] says where each region goes for a
//! size (so the app knows which slots are on screen), [`help`] is the help
//! as data. The loop that draws and carries out [`Effect`]s is
//! [`crate::run`]'s; the renderer is [`crate::ui`].

pub mod help;
pub mod host;
pub mod input;
pub mod layout;
pub mod liveness;
pub mod observe;
pub mod picker;
mod rates;
pub mod search;
pub mod state;

pub use host::{HostColumn, HostRing, HostView};
pub use layout::{Focus, HostFocus};
pub use liveness::liveness;
pub use search::slot_matches;
pub use state::*;
