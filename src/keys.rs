//! Key bindings as data: one table drives the key handler, the help overlay
//! and the status bar, so the three can never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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

/// One binding: the keys, how the status bar names it (if it does), and
/// what the help says.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// What it does.
    pub action: Action,
    /// The keys, as the help and the status bar spell them.
    pub keys: &'static str,
    /// The status bar's word for it; `None` keeps it out of the bar.
    pub short: Option<&'static str>,
    /// The help's sentence.
    pub help: &'static str,
    /// When it applies.
    pub when: When,
}

/// Every binding, in the order the help lists them (and the status bar,
/// left to right, what fits).
pub const BINDINGS: &[Binding] = &[
    Binding {
        action: Action::Quit,
        keys: "q, Ctrl-C",
        short: Some("quit"),
        help: "quit (Esc closes this help, a prompt or the picker first)",
        when: When::Always,
    },
    Binding {
        action: Action::Help,
        keys: "?",
        short: Some("help"),
        help: "this help: every key, state, marker, column and alarm",
        when: When::Always,
    },
    Binding {
        action: Action::Up,
        keys: "↑ k",
        short: None,
        help: "previous slot (or line of the focused panel)",
        when: When::Always,
    },
    Binding {
        action: Action::Down,
        keys: "↓ j",
        short: Some("step"),
        help: "next slot (or line of the focused panel)",
        when: When::Always,
    },
    Binding {
        action: Action::PageUp,
        keys: "PgUp",
        short: None,
        help: "a page up",
        when: When::Always,
    },
    Binding {
        action: Action::PageDown,
        keys: "PgDn",
        short: None,
        help: "a page down",
        when: When::Always,
    },
    Binding {
        action: Action::First,
        keys: "g Home",
        short: None,
        help: "first slot",
        when: When::Always,
    },
    Binding {
        action: Action::Last,
        keys: "G End",
        short: None,
        help: "last slot",
        when: When::Always,
    },
    Binding {
        action: Action::Tail,
        keys: "t",
        short: Some("tail"),
        help: "select the slot the consumer reads next (T)",
        when: When::Always,
    },
    Binding {
        action: Action::Head,
        keys: "h",
        short: Some("newest"),
        help: "select the newest frame (H marks where head points; it may lag by the publish batch)",
        when: When::Always,
    },
    Binding {
        action: Action::Follow,
        keys: "f",
        short: Some("follow"),
        help: "keep the newest frame selected (on at start; any move turns it off)",
        when: When::Always,
    },
    Binding {
        action: Action::Jump,
        keys: ":",
        short: Some("jump"),
        help: "jump to a sequence number, or be told which ones the ring still holds",
        when: When::Always,
    },
    Binding {
        action: Action::Search,
        keys: "/",
        short: Some("find"),
        help: "find slots by state (pend, done, free, torn), kind (metric, log, …) or body text; \
               in a recording, a kind or text moves the cursor to the next frame that has it",
        when: When::Always,
    },
    Binding {
        action: Action::NextMatch,
        keys: "n",
        short: None,
        help: "next match (in a recording: the next matching frame of the file)",
        when: When::Always,
    },
    Binding {
        action: Action::PrevMatch,
        keys: "N",
        short: None,
        help: "previous match (in a recording: the previous matching frame)",
        when: When::Always,
    },
    Binding {
        action: Action::Freeze,
        keys: "space",
        short: Some("freeze"),
        help: "freeze: copy the whole ring once and browse that still image; sampling and alarms go on",
        when: When::Always,
    },
    Binding {
        action: Action::Hex,
        keys: "x",
        short: Some("hex"),
        help: "show the selected slot decoded, or as hex and ASCII",
        when: When::Always,
    },
    Binding {
        action: Action::Focus,
        keys: "Tab",
        short: Some("focus"),
        help: "move the focus: slot list, slot detail, event log (↑↓ then scroll it)",
        when: When::Always,
    },
    Binding {
        action: Action::LogLevel,
        keys: "l",
        short: None,
        help: "event log: all, warnings and alarms, alarms only",
        when: When::Always,
    },
    Binding {
        action: Action::Burst,
        keys: "b",
        short: Some("burst"),
        help: "load burst: SIGUSR1 to the producer, once it is proven to hold the role (never a write)",
        when: When::Live,
    },
    Binding {
        action: Action::Save,
        keys: "s",
        short: Some("save"),
        help: "save this screen as SVG, text and JSON (the path is printed)",
        when: When::Always,
    },
    Binding {
        action: Action::Open,
        keys: "o",
        short: Some("open"),
        help: "pick another segment from /dev/shm",
        when: When::Live,
    },
    Binding {
        action: Action::Faster,
        keys: "+",
        short: None,
        help: "sample more often (5000, 2000, 1000, 500, 250, 100, 50 ms)",
        when: When::Always,
    },
    Binding {
        action: Action::Slower,
        keys: "-",
        short: None,
        help: "sample less often",
        when: When::Always,
    },
    Binding {
        action: Action::ClearLog,
        keys: "c",
        short: None,
        help: "clear the event log",
        when: When::Always,
    },
    Binding {
        action: Action::Play,
        keys: "p",
        short: Some("play"),
        help: "play the recording from the cursor at the play speed, or pause it",
        when: When::Recording,
    },
    Binding {
        action: Action::FrameBack,
        keys: "[",
        short: None,
        help: "the cursor one recorded frame back",
        when: When::Recording,
    },
    Binding {
        action: Action::FrameOn,
        keys: "]",
        short: Some("frame"),
        help: "the cursor one recorded frame on",
        when: When::Recording,
    },
    Binding {
        action: Action::SecondBack,
        keys: "{",
        short: None,
        help: "the cursor a second of recorded time back",
        when: When::Recording,
    },
    Binding {
        action: Action::SecondOn,
        keys: "}",
        short: Some("second"),
        help: "the cursor a second of recorded time on",
        when: When::Recording,
    },
    Binding {
        action: Action::PlaySlower,
        keys: "<",
        short: None,
        help: "play slower (0.01x to 100x the recorded pace)",
        when: When::Recording,
    },
    Binding {
        action: Action::PlayFaster,
        keys: ">",
        short: Some("speed"),
        help: "play faster",
        when: When::Recording,
    },
];

/// The action a key asks for, if any.
pub fn action(key: KeyEvent) -> Option<Action> {
    use Action::*;
    Some(match key.code {
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Quit,
        KeyCode::Char('q') => Quit,
        KeyCode::Char('?') => Help,
        KeyCode::Esc => Escape,
        KeyCode::Up | KeyCode::Char('k') => Up,
        KeyCode::Down | KeyCode::Char('j') => Down,
        KeyCode::PageUp => PageUp,
        KeyCode::PageDown => PageDown,
        KeyCode::Home | KeyCode::Char('g') => First,
        KeyCode::End | KeyCode::Char('G') => Last,
        KeyCode::Char('t') => Tail,
        KeyCode::Char('h') => Head,
        KeyCode::Char('f') => Follow,
        KeyCode::Char(':') => Jump,
        KeyCode::Char('/') => Search,
        KeyCode::Char('n') => NextMatch,
        KeyCode::Char('N') => PrevMatch,
        KeyCode::Char(' ') => Freeze,
        KeyCode::Char('x') => Hex,
        KeyCode::Tab | KeyCode::BackTab => Focus,
        KeyCode::Char('l') => LogLevel,
        KeyCode::Char('b') => Burst,
        KeyCode::Char('s') => Save,
        KeyCode::Char('o') => Open,
        KeyCode::Char('+') | KeyCode::Char('=') => Faster,
        KeyCode::Char('-') => Slower,
        KeyCode::Char('c') => ClearLog,
        KeyCode::Char('p') => Play,
        KeyCode::Char('[') => FrameBack,
        KeyCode::Char(']') => FrameOn,
        KeyCode::Char('{') => SecondBack,
        KeyCode::Char('}') => SecondOn,
        KeyCode::Char('<') => PlaySlower,
        KeyCode::Char('>') => PlayFaster,
        _ => return None,
    })
}

/// The refresh presets `+` and `-` step through, in ms.
pub const REFRESH_PRESETS_MS: [u64; 7] = [50, 100, 250, 500, 1000, 2000, 5000];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_binding_and_the_keys_it_names_reach_it() {
        use std::collections::HashSet;
        let listed: HashSet<Action> = BINDINGS.iter().map(|b| b.action).collect();
        for b in BINDINGS {
            // The first key the table names must produce the action.
            let first = b.keys.split([',', ' ']).next().unwrap();
            let code = match first {
                "↑" => KeyCode::Up,
                "↓" => KeyCode::Down,
                "PgUp" => KeyCode::PageUp,
                "PgDn" => KeyCode::PageDown,
                "Tab" => KeyCode::Tab,
                "space" => KeyCode::Char(' '),
                k => KeyCode::Char(k.chars().next().unwrap()),
            };
            assert_eq!(
                action(KeyEvent::new(code, KeyModifiers::NONE)),
                Some(b.action),
                "{:?}",
                b.keys
            );
        }
        // Escape is handled everywhere but listed in the quit line.
        assert!(!listed.contains(&Action::Escape));
        assert_eq!(listed.len(), BINDINGS.len());
    }
}
