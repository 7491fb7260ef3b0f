//! Which origin session `in` follows, and how it learns of a new one.
//!
//! Origin sessions are random numbers (fabric mixes randomness into them),
//! so they have no order of their own, and a sample's session proves only
//! that the key's holder once published it: a captured sample of an old
//! session, replayed, carries a valid tag. The order comes from the sender
//! instead. `in` never follows a session because a sample names it; it
//! asks `out` (a query on KEY/@session with a fresh random nonce) and
//! follows the session the authenticated answer names. An answer is bound
//! to its nonce, so it cannot be replayed; and only the live `out` can
//! answer, so the session it names is the newest there is.
//!
//! ```text
//!  sample of session s (authenticated):
//!    s == followed           -> relayed
//!    s known stale           -> dropped, counted `stale`
//!    otherwise               -> dropped, counted `unconfirmed`; ask KEY/@session
//!  answer (nonce matches):   names n
//!    n == followed           -> the others seen are stale
//!    nothing followed yet    -> follow n (the ring holds none, or n's frames: resume)
//!    another n               -> follow n: the origin was re-initialized
//!                               (replace the far ring with --init, else exit 3)
//! ```
//!
//! Frames dropped while unconfirmed are not lost: once the session is
//! confirmed, `in` starts at the first of them that the sender still has
//! and asks the history for them.

use std::collections::VecDeque;

use crate::wire::before;

/// Stale sessions remembered.
const STALE_KEPT: usize = 1024;
/// Unconfirmed sessions whose first frame is remembered.
const SEEN_KEPT: usize = 16;

/// What a sample's session means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The session followed.
    Follow,
    /// A session the sender no longer publishes.
    Stale,
    /// Not known yet: the sender is being asked.
    Unconfirmed,
}

/// What an answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing changes.
    Same,
    /// Start following `session`: the far ring holds no frame of another
    /// session. `resume` is the next sequence if it holds some of this one;
    /// `start` the first frame seen before the answer, if any.
    Adopt {
        /// The session.
        session: u64,
        /// Next sequence of the ring's frames of this session.
        resume: Option<u64>,
        /// First sequence of this session seen while unconfirmed, not
        /// before what the sender still has.
        start: Option<u64>,
    },
    /// The origin ring was re-initialized: the far ring holds `old`'s
    /// frames, and `new` is published now.
    Replace {
        /// The session of the ring's frames.
        old: u64,
        /// The session now.
        new: u64,
        /// As in `Adopt`.
        start: Option<u64>,
    },
}

/// The state.
#[derive(Debug)]
pub struct Origins {
    followed: Option<u64>,
    /// The session of the relayed frames the far ring held at start, and
    /// the sequence after its last.
    resume: Option<(u64, u64)>,
    stale: VecDeque<u64>,
    /// Unconfirmed sessions, and the first sequence seen of each.
    seen: VecDeque<(u64, u64)>,
    asked: bool,
}

impl Origins {
    /// For a far ring whose last relayed frame is `resume` (session, next
    /// sequence), or that holds none.
    pub fn new(resume: Option<(u64, u64)>) -> Origins {
        Origins {
            followed: None,
            resume,
            stale: VecDeque::new(),
            seen: VecDeque::new(),
            // Ask at once: the answer usually comes before the first frame.
            asked: true,
        }
    }

    /// The session followed.
    pub fn followed(&self) -> Option<u64> {
        self.followed
    }

    /// Classifies an authenticated sample of `session` whose first frame
    /// is `first`.
    pub fn sample(&mut self, session: u64, first: u64) -> Verdict {
        if self.followed == Some(session) {
            return Verdict::Follow;
        }
        if self.stale.contains(&session) {
            return Verdict::Stale;
        }
        match self.seen.iter_mut().find(|(s, _)| *s == session) {
            Some((_, f)) => {
                if before(first, *f) {
                    *f = first;
                }
            }
            None => {
                if self.seen.len() == SEEN_KEPT {
                    self.seen.pop_front();
                }
                self.seen.push_back((session, first));
            }
        }
        self.asked = true;
        Verdict::Unconfirmed
    }

    /// Is a session query wanted (without taking it)?
    pub fn wants_ask(&self) -> bool {
        self.asked
    }

    /// Should a session query go out? (Once; [`Self::unanswered`] re-arms.)
    pub fn take_ask(&mut self) -> bool {
        std::mem::take(&mut self.asked)
    }

    /// A session query ended without an answer (timeout, no sender): ask
    /// again if we still do not know.
    pub fn unanswered(&mut self) {
        if self.followed.is_none() || !self.seen.is_empty() {
            self.asked = true;
        }
    }

    /// The sender answered: it publishes `session`, and still has
    /// sequences from `kept_from` on.
    pub fn answer(&mut self, session: u64, kept_from: u64) -> Decision {
        let start = self
            .seen
            .iter()
            .find(|(s, _)| *s == session)
            .map(|&(_, f)| if before(f, kept_from) { kept_from } else { f });
        // Every other session seen so far is stale: nothing is in doubt.
        self.asked = false;
        for (s, _) in std::mem::take(&mut self.seen) {
            if s != session {
                self.make_stale(s);
            }
        }
        let decision = match (self.followed, self.resume) {
            (Some(f), _) if f == session => return Decision::Same,
            (Some(old), _) => Decision::Replace {
                old,
                new: session,
                start,
            },
            (None, Some((s, next))) if s == session => Decision::Adopt {
                session,
                resume: Some(next),
                start,
            },
            (None, Some((old, _))) => Decision::Replace {
                old,
                new: session,
                start,
            },
            (None, None) => Decision::Adopt {
                session,
                resume: None,
                start,
            },
        };
        if let Some(old) = self.followed.replace(session) {
            self.make_stale(old);
        }
        if let Some((old, _)) = self.resume.take() {
            if old != session {
                self.make_stale(old);
            }
        }
        decision
    }

    fn make_stale(&mut self, s: u64) {
        if !self.stale.contains(&s) {
            if self.stale.len() == STALE_KEPT {
                self.stale.pop_front();
            }
            self.stale.push_back(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_followed_before_the_sender_answers() {
        let mut o = Origins::new(None);
        assert!(o.take_ask(), "asks at start");
        assert!(!o.take_ask());
        assert_eq!(o.sample(7, 100), Verdict::Unconfirmed);
        assert_eq!(o.sample(7, 90), Verdict::Unconfirmed);
        assert!(o.take_ask());
        assert_eq!(
            o.answer(7, 0),
            Decision::Adopt {
                session: 7,
                resume: None,
                start: Some(90)
            }
        );
        assert_eq!(o.sample(7, 120), Verdict::Follow);
    }

    #[test]
    fn a_replayed_old_session_is_stale_and_never_replaces_the_ring() {
        let mut o = Origins::new(Some((7, 500)));
        // A captured sample of session 3 comes first.
        assert_eq!(o.sample(3, 10), Verdict::Unconfirmed);
        // The sender says 7: resume, and 3 is stale from now on.
        assert_eq!(
            o.answer(7, 0),
            Decision::Adopt {
                session: 7,
                resume: Some(500),
                start: None
            }
        );
        assert_eq!(o.sample(3, 11), Verdict::Stale);
        assert!(!o.take_ask());
        // Another old one, while following: asked, then stale.
        assert_eq!(o.sample(4, 1), Verdict::Unconfirmed);
        assert_eq!(o.answer(7, 0), Decision::Same);
        assert_eq!(o.sample(4, 2), Verdict::Stale);
        assert_eq!(o.followed(), Some(7));
    }

    #[test]
    fn a_reinitialized_origin_is_followed_once_the_sender_names_it() {
        let mut o = Origins::new(None);
        o.answer(7, 0);
        assert_eq!(o.sample(8, 0), Verdict::Unconfirmed);
        assert_eq!(
            o.answer(8, 0),
            Decision::Replace {
                old: 7,
                new: 8,
                start: Some(0)
            }
        );
        assert_eq!(o.sample(7, 5), Verdict::Stale);
        assert_eq!(o.sample(8, 5), Verdict::Follow);
    }

    #[test]
    fn a_ring_of_another_origin_is_replaced_and_a_start_is_clipped_to_what_the_sender_has() {
        let mut o = Origins::new(Some((7, 500)));
        o.sample(9, 10);
        assert_eq!(
            o.answer(9, 40),
            Decision::Replace {
                old: 7,
                new: 9,
                start: Some(40)
            }
        );
    }

    #[test]
    fn an_unanswered_query_is_asked_again_only_while_in_doubt() {
        let mut o = Origins::new(None);
        o.take_ask();
        o.unanswered();
        assert!(o.take_ask());
        o.answer(7, 0);
        o.unanswered();
        assert!(!o.take_ask());
    }
}
