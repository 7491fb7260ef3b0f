//! forge-bridge's protocol, without I/O: the messages that cross the
//! network and their MAC ([`wire`], [`auth`]), the sender's history
//! ([`history`]), and the receiver's decisions ([`sequencer`], [`origin`]).
//! The `forge-bridge` binary runs them over Zenoh; tests use them to play
//! a hostile peer.
#![deny(unsafe_code)]

pub mod auth;
pub mod history;
pub mod origin;
pub mod sequencer;
pub mod wire;
