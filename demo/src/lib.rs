//! Shared pieces of the Forge demo daemons.
