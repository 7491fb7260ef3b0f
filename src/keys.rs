//! Key bindings as data: each binding holds key values ([`Key`]: a code and
//! its modifiers) that the handler matches ([`action`]), the help lists and
//! the status bar shows, all through the key's own `Display`; the table is
//! the dispatch, so the three can never disagree (as trippy's `binding.rs`).

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

mod host;
pub use host::{host_action, HostAction, HOST};

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Leave.
    Quit,
    /// Show or hide the help.
    Help,
    /// Close an overlay or a prompt, or stop following a search.
    Escape,
    /// Previous row of the focused panel.
    Up,
    /// Next row of the focused panel.
    Down,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// First row.
    First,
    /// Last row.
    Last,
    /// Select the slot the consumer reads next.
    Tail,
    /// Select the newest frame.
    Head,
    /// Keep the newest frame selected.
    Follow,
    /// Decoded frame or hex dump.
    Hex,
    /// Freeze the view on one copy of the whole ring, or thaw it.
    Freeze,
    /// Ask the producer for a load burst.
    Burst,
    /// Save a screenshot bundle.
    Save,
    /// Clear the event log.
    ClearLog,
    /// Sample more often.
    Faster,
    /// Sample less often.
    Slower,
    /// Jump to a sequence number.
    Jump,
    /// Filter the slots.
    Search,
    /// Next match.
    NextMatch,
    /// Previous match.
    PrevMatch,
    /// Move the focus to the next panel.
    Focus,
    /// Which levels the event log shows.
    LogLevel,
    /// Pick another segment.
    Open,
    /// Recording: one frame back.
    FrameBack,
    /// Recording: one frame on.
    FrameOn,
    /// Recording: a second back.
    SecondBack,
    /// Recording: a second on.
    SecondOn,
    /// Recording: play or pause.
    Play,
    /// Recording: play slower.
    PlaySlower,
    /// Recording: play faster.
    PlayFaster,
}

/// When a binding does anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Always.
    Always,
    /// Watching a live segment.
    Live,
    /// Reading a recording (`--file x.mcap`).
    Recording,
}

/// A key as a value: its code and the modifiers that must be held. Shift
/// is part of the character (`G`, `?`, `+`), so it is ignored when matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Ctrl, Alt… that must be held (never Shift).
    pub modifiers: KeyModifiers,
}

impl Key {
    /// A character typed alone.
    pub const fn char(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::NONE,
        }
    }

    /// A character with Ctrl held.
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
        }
    }

    /// A named key (arrows, Tab, Esc…) alone.
    pub const fn code(code: KeyCode) -> Key {
        Key {
            code,
            modifiers: KeyModifiers::NONE,
        }
    }

    /// Is `event` this key?
    pub fn check(&self, event: &KeyEvent) -> bool {
        self.code == event.code && event.modifiers.difference(KeyModifiers::SHIFT) == self.modifiers
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            f.write_str("Ctrl-")?;
        }
        if self.modifiers.contains(KeyModifiers::ALT) {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) if self.modifiers.contains(KeyModifiers::CONTROL) => {
                write!(f, "{}", c.to_ascii_uppercase())
            }
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Backspace => f.write_str("Backspace"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One binding: the keys, how the status bar names it (if it does), and
/// what the help says.
#[derive(Debug, Clone, Copy)]
pub struct Binding<A: 'static = Action> {
    /// What it does.
    pub action: A,
    /// The keys that do it; the first is the one the status bar shows.
    pub keys: &'static [Key],
    /// The status bar's word for it; `None` keeps it out of the bar.
    pub short: Option<&'static str>,
    /// The help's sentence.
    pub help: &'static str,
    /// When it applies.
    pub when: When,
}

impl<A: Copy> Binding<A> {
    /// Does `event` press one of this binding's keys?
    pub fn check(&self, event: &KeyEvent) -> bool {
        self.keys.iter().any(|k| k.check(event))
    }

    /// The keys as the help spells them: `q Ctrl-C`.
    pub fn keys_text(&self) -> String {
        self.keys
            .iter()
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The key the status bar shows.
    pub fn first_key(&self) -> String {
        self.keys.first().map_or_else(String::new, Key::to_string)
    }
}

/// The action of the first binding in `table` whose keys `event` presses.
pub fn lookup<A: Copy>(table: &[Binding<A>], event: &KeyEvent) -> Option<A> {
    table.iter().find(|b| b.check(event)).map(|b| b.action)
}

/// Every binding, in the order the help lists them (and the status bar,
/// left to right, what fits).
pub const BINDINGS: &[Binding] = &[
    Binding {
        action: Action::Quit,
        keys: &[Key::char('q'), Key::ctrl('c')],
        short: Some("quit"),
        help: "quit (Esc closes this help, a prompt or the picker first)",
        when: When::Always,
    },
    Binding {
        action: Action::Help,
        keys: &[Key::char('?')],
        short: Some("help"),
        help: "this help: every key, state, marker, column and alarm",
        when: When::Always,
    },
    Binding {
        action: Action::Escape,
        keys: &[Key::code(KeyCode::Esc)],
        short: None,
        help: "close this help, a prompt or the picker; clear a search; else back to the host view, when the ring was opened from it",
        when: When::Always,
    },
    Binding {
        action: Action::Up,
        keys: &[Key::code(KeyCode::Up), Key::char('k')],
        short: None,
        help: "previous slot (or line of the focused panel)",
        when: When::Always,
    },
    Binding {
        action: Action::Down,
        keys: &[Key::code(KeyCode::Down), Key::char('j')],
        short: Some("step"),
        help: "next slot (or line of the focused panel)",
        when: When::Always,
    },
    Binding {
        action: Action::PageUp,
        keys: &[Key::code(KeyCode::PageUp)],
        short: None,
        help: "a page up",
        when: When::Always,
    },
    Binding {
        action: Action::PageDown,
        keys: &[Key::code(KeyCode::PageDown)],
        short: None,
        help: "a page down",
        when: When::Always,
    },
    Binding {
        action: Action::First,
        keys: &[Key::char('g'), Key::code(KeyCode::Home)],
        short: None,
        help: "first slot",
        when: When::Always,
    },
    Binding {
        action: Action::Last,
        keys: &[Key::char('G'), Key::code(KeyCode::End)],
        short: None,
        help: "last slot",
        when: When::Always,
    },
    Binding {
        action: Action::Tail,
        keys: &[Key::char('t')],
        short: Some("tail"),
        help: "select the slot the consumer reads next (T)",
        when: When::Always,
    },
    Binding {
        action: Action::Head,
        keys: &[Key::char('h')],
        short: Some("newest"),
        help: "select the newest frame (H marks where head points; it may lag by the publish batch)",
        when: When::Always,
    },
    Binding {
        action: Action::Follow,
        keys: &[Key::char('f')],
        short: Some("follow"),
        help: "keep the newest frame selected (on at start; any move turns it off)",
        when: When::Always,
    },
    Binding {
        action: Action::Jump,
        keys: &[Key::char(':')],
        short: Some("jump"),
        help: "jump to a sequence number, or be told which ones the ring still holds",
        when: When::Always,
    },
    Binding {
        action: Action::Search,
        keys: &[Key::char('/')],
        short: Some("find"),
        help: "find slots by state (pend, done, free, torn), kind (metric, log, …) or body text; \
               in a recording, a kind or text moves the cursor to the next frame that has it",
        when: When::Always,
    },
    Binding {
        action: Action::NextMatch,
        keys: &[Key::char('n')],
        short: None,
        help: "next match (in a recording: the next matching frame of the file)",
        when: When::Always,
    },
    Binding {
        action: Action::PrevMatch,
        keys: &[Key::char('N')],
        short: None,
        help: "previous match (in a recording: the previous matching frame)",
        when: When::Always,
    },
    Binding {
        action: Action::Freeze,
        keys: &[Key::char(' ')],
        short: Some("freeze"),
        help: "freeze: copy the whole ring once and browse that still image; sampling and alarms go on",
        when: When::Always,
    },
    Binding {
        action: Action::Hex,
        keys: &[Key::char('x')],
        short: Some("hex"),
        help: "show the selected slot decoded, or as hex and ASCII",
        when: When::Always,
    },
    Binding {
        action: Action::Focus,
        keys: &[Key::code(KeyCode::Tab), Key::code(KeyCode::BackTab)],
        short: Some("focus"),
        help: "move the focus: slot list, slot detail, event log (↑↓ then scroll it)",
        when: When::Always,
    },
    Binding {
        action: Action::LogLevel,
        keys: &[Key::char('l')],
        short: None,
        help: "event log: all, warnings and alarms, alarms only",
        when: When::Always,
    },
    Binding {
        action: Action::Burst,
        keys: &[Key::char('b')],
        short: Some("burst"),
        help: "load burst: SIGUSR1 to the producer, once it is proven to hold the role (never a write)",
        when: When::Live,
    },
    Binding {
        action: Action::Save,
        keys: &[Key::char('s')],
        short: Some("save"),
        help: "save this screen as SVG, text and JSON (the path is printed)",
        when: When::Always,
    },
    Binding {
        action: Action::Open,
        keys: &[Key::char('o')],
        short: Some("open"),
        help: "pick another segment from /dev/shm",
        when: When::Live,
    },
    Binding {
        action: Action::Faster,
        keys: &[Key::char('+'), Key::char('=')],
        short: None,
        help: "sample more often (5000, 2000, 1000, 500, 250, 100, 50 ms)",
        when: When::Always,
    },
    Binding {
        action: Action::Slower,
        keys: &[Key::char('-')],
        short: None,
        help: "sample less often",
        when: When::Always,
    },
    Binding {
        action: Action::ClearLog,
        keys: &[Key::char('c')],
        short: None,
        help: "clear the event log",
        when: When::Always,
    },
    Binding {
        action: Action::Play,
        keys: &[Key::char('p')],
        short: Some("play"),
        help: "play the recording from the cursor at the play speed, or pause it",
        when: When::Recording,
    },
    Binding {
        action: Action::FrameBack,
        keys: &[Key::char('[')],
        short: None,
        help: "the cursor one recorded frame back",
        when: When::Recording,
    },
    Binding {
        action: Action::FrameOn,
        keys: &[Key::char(']')],
        short: Some("frame"),
        help: "the cursor one recorded frame on",
        when: When::Recording,
    },
    Binding {
        action: Action::SecondBack,
        keys: &[Key::char('{')],
        short: None,
        help: "the cursor a second of recorded time back",
        when: When::Recording,
    },
    Binding {
        action: Action::SecondOn,
        keys: &[Key::char('}')],
        short: Some("second"),
        help: "the cursor a second of recorded time on",
        when: When::Recording,
    },
    Binding {
        action: Action::PlaySlower,
        keys: &[Key::char('<')],
        short: None,
        help: "play slower (0.01x to 100x the recorded pace)",
        when: When::Recording,
    },
    Binding {
        action: Action::PlayFaster,
        keys: &[Key::char('>')],
        short: Some("speed"),
        help: "play faster",
        when: When::Recording,
    },
];

/// The action a key asks for in the main view, if any: the table is the
/// dispatch.
pub fn action(key: KeyEvent) -> Option<Action> {
    lookup(BINDINGS, &key)
}

/// What a key does in the segment picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PickerAction {
    /// Close the picker.
    Close,
    /// The row above.
    Up,
    /// The row below.
    Down,
    /// List the segments again.
    Refresh,
    /// Watch the highlighted segment.
    Open,
}

/// The picker's bindings: its dispatch and its footer.
pub const PICKER: &[Binding<PickerAction>] = &[
    Binding {
        action: PickerAction::Up,
        keys: &[Key::code(KeyCode::Up), Key::char('k')],
        short: Some("up"),
        help: "the row above",
        when: When::Always,
    },
    Binding {
        action: PickerAction::Down,
        keys: &[Key::code(KeyCode::Down), Key::char('j')],
        short: Some("down"),
        help: "the row below",
        when: When::Always,
    },
    Binding {
        action: PickerAction::Open,
        keys: &[Key::code(KeyCode::Enter)],
        short: Some("open"),
        help: "watch the highlighted segment",
        when: When::Always,
    },
    Binding {
        action: PickerAction::Refresh,
        keys: &[Key::char('r')],
        short: Some("refresh"),
        help: "list the segments again",
        when: When::Always,
    },
    Binding {
        action: PickerAction::Close,
        keys: &[Key::code(KeyCode::Esc), Key::char('q')],
        short: Some("close"),
        help: "close the picker",
        when: When::Always,
    },
];

/// The refresh presets `+` and `-` step through, in ms.
pub const REFRESH_PRESETS_MS: [u64; 7] = [50, 100, 250, 500, 1000, 2000, 5000];

#[cfg(test)]
mod tests {
    use super::*;

    fn press(k: &Key) -> KeyEvent {
        KeyEvent::new(k.code, k.modifiers)
    }

    #[test]
    fn every_key_a_binding_holds_dispatches_to_its_action_and_no_key_is_bound_twice() {
        use std::collections::HashSet;
        let mut seen = HashSet::new();
        for b in BINDINGS {
            for k in b.keys {
                assert_eq!(action(press(k)), Some(b.action), "{k}");
                assert!(seen.insert(*k), "{k} is bound twice");
            }
        }
        let actions: HashSet<Action> = BINDINGS.iter().map(|b| b.action).collect();
        assert_eq!(actions.len(), BINDINGS.len(), "one binding per action");
        let mut seen = HashSet::new();
        for b in HOST {
            for k in b.keys {
                assert_eq!(host_action(press(k)), Some(b.action), "{k}");
                assert!(seen.insert(*k), "{k} is bound twice in the host view");
            }
        }
        let actions: HashSet<HostAction> = HOST.iter().map(|b| b.action).collect();
        assert_eq!(actions.len(), HOST.len(), "one host binding per action");
        let mut seen = HashSet::new();
        for b in PICKER {
            for k in b.keys {
                assert_eq!(lookup(PICKER, &press(k)), Some(b.action), "{k}");
                assert!(seen.insert(*k), "{k} is bound twice in the picker");
            }
        }
    }

    #[test]
    fn shift_is_part_of_a_character_but_ctrl_is_not() {
        let shifted = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(action(shifted), Some(Action::Last));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(ctrl_c), Some(Action::Quit));
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(action(c), Some(Action::ClearLog));
        let back_tab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(action(back_tab), Some(Action::Focus));
    }

    #[test]
    fn keys_display_as_people_type_them() {
        assert_eq!(Key::ctrl('c').to_string(), "Ctrl-C");
        assert_eq!(Key::char(' ').to_string(), "space");
        assert_eq!(Key::code(KeyCode::PageDown).to_string(), "PgDn");
        let quit = BINDINGS.iter().find(|b| b.action == Action::Quit).unwrap();
        assert_eq!(quit.keys_text(), "q Ctrl-C");
        assert_eq!(quit.first_key(), "q");
    }
}
