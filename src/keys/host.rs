//! The host view's keys (every ring of the host): its actions and its
//! binding table, which drives its dispatch, its part of the help and its
//! status bar.

use crossterm::event::{KeyCode, KeyEvent};

use super::{lookup, Binding, Key, When};

/// What a key does in the host view (every ring of the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostAction {
    /// Leave.
    Quit,
    /// Show or hide the help.
    Help,
    /// Clear the filter; close the help or a prompt.
    Escape,
    /// The row above.
    Up,
    /// The row below.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// The first row.
    First,
    /// The last row.
    Last,
    /// Watch the selected ring in the ring view.
    Open,
    /// Show only the rings that hold a text.
    Filter,
    /// Sort by the column to the left.
    SortLeft,
    /// Sort by the column to the right.
    SortRight,
    /// Reverse the order.
    Reverse,
    /// Save a screenshot bundle.
    Save,
    /// Sample more often.
    Faster,
    /// Sample less often.
    Slower,
    /// Clear the event log.
    ClearLog,
    /// Move the focus between the table and the event log.
    Focus,
    /// Which levels the event log shows.
    LogLevel,
}

/// The host view's bindings: its dispatch, its part of the help and its
/// status bar.
pub const HOST: &[Binding<HostAction>] = &[
    Binding {
        action: HostAction::Quit,
        keys: &[Key::char('q'), Key::ctrl('c')],
        short: Some("quit"),
        help: "quit (Esc closes this help or a prompt first)",
        when: When::Always,
    },
    Binding {
        action: HostAction::Help,
        keys: &[Key::char('?')],
        short: Some("help"),
        help: "this help",
        when: When::Always,
    },
    Binding {
        action: HostAction::Escape,
        keys: &[Key::code(KeyCode::Esc)],
        short: None,
        help: "clear the filter; close this help or a prompt",
        when: When::Always,
    },
    Binding {
        action: HostAction::Up,
        keys: &[Key::code(KeyCode::Up), Key::char('k')],
        short: None,
        help: "the ring above (or the line of the focused event log)",
        when: When::Always,
    },
    Binding {
        action: HostAction::Down,
        keys: &[Key::code(KeyCode::Down), Key::char('j')],
        short: Some("step"),
        help: "the ring below (or the next line of the focused event log)",
        when: When::Always,
    },
    Binding {
        action: HostAction::PageUp,
        keys: &[Key::code(KeyCode::PageUp)],
        short: None,
        help: "a page up",
        when: When::Always,
    },
    Binding {
        action: HostAction::PageDown,
        keys: &[Key::code(KeyCode::PageDown)],
        short: None,
        help: "a page down",
        when: When::Always,
    },
    Binding {
        action: HostAction::First,
        keys: &[Key::char('g'), Key::code(KeyCode::Home)],
        short: None,
        help: "the first ring",
        when: When::Always,
    },
    Binding {
        action: HostAction::Last,
        keys: &[Key::char('G'), Key::code(KeyCode::End)],
        short: None,
        help: "the last ring",
        when: When::Always,
    },
    Binding {
        action: HostAction::Open,
        keys: &[Key::code(KeyCode::Enter)],
        short: Some("open"),
        help: "watch the selected ring in the ring view; Esc there comes back here",
        when: When::Always,
    },
    Binding {
        action: HostAction::Filter,
        keys: &[Key::char('/')],
        short: Some("filter"),
        help: "show only the rings whose name, state, program, pid or alarm holds a text (as you type; Enter keeps it, Esc clears it)",
        when: When::Always,
    },
    Binding {
        action: HostAction::SortRight,
        keys: &[Key::char('>'), Key::char('.')],
        short: Some("sort"),
        help: "sort by the column to the right (any column: name, session, state, producer, consumer, frames/s, bytes/s, fill, p99, alarm)",
        when: When::Always,
    },
    Binding {
        action: HostAction::SortLeft,
        keys: &[Key::char('<'), Key::char(',')],
        short: None,
        help: "sort by the column to the left",
        when: When::Always,
    },
    Binding {
        action: HostAction::Reverse,
        keys: &[Key::char('r')],
        short: Some("reverse"),
        help: "reverse the order",
        when: When::Always,
    },
    Binding {
        action: HostAction::Save,
        keys: &[Key::char('s')],
        short: Some("save"),
        help: "save this screen as SVG, text and JSON (the path is printed)",
        when: When::Always,
    },
    Binding {
        action: HostAction::Focus,
        keys: &[Key::code(KeyCode::Tab), Key::code(KeyCode::BackTab)],
        short: Some("focus"),
        help: "move the focus: ring table, event log (↑↓ then scroll it)",
        when: When::Always,
    },
    Binding {
        action: HostAction::LogLevel,
        keys: &[Key::char('l')],
        short: None,
        help: "event log: all, warnings and alarms, alarms only",
        when: When::Always,
    },
    Binding {
        action: HostAction::Faster,
        keys: &[Key::char('+'), Key::char('=')],
        short: None,
        help: "sample more often (5000, 2000, 1000, 500, 250, 100, 50 ms)",
        when: When::Always,
    },
    Binding {
        action: HostAction::Slower,
        keys: &[Key::char('-')],
        short: None,
        help: "sample less often",
        when: When::Always,
    },
    Binding {
        action: HostAction::ClearLog,
        keys: &[Key::char('c')],
        short: None,
        help: "clear the event log",
        when: When::Always,
    },
];

/// What a key asks for in the host view, if anything: the table is the
/// dispatch.
pub fn host_action(key: KeyEvent) -> Option<HostAction> {
    lookup(HOST, &key)
}
