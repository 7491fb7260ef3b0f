//! forge-top: the read-only live inspector for Forge rings.
//!
//! [`source`] is the only module that talks to forge-fabric; it turns what
//! it copies out of the segment into the plain data of [`model`]. [`app`]
//! holds the state and handles events, [`alarms`] decides what deserves
//! attention, [`ui`] draws (a pure function of the app), and [`export`]
//! writes SVG, text and JSON.
#![forbid(unsafe_code)]

pub mod alarms;
pub mod app;
pub mod cli;
pub mod demo;
pub mod event;
pub mod export;
pub mod failure;
pub mod keys;
pub mod model;
pub mod offline;
pub mod procfs;
pub mod run;
pub mod source;
pub mod ui;
