//! clientpulse: the weekly client-success report, from a Parquet warehouse
//! to the inboxes of leadership.
//!
//! One module per stage of the pipeline; [`pipeline`] alone knows their
//! order. See README.md, section Architecture, for the invariants.

pub mod calendar;
pub mod catalog;
pub mod checks;
pub mod cli;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod diagnostic;
pub mod drivers;
pub mod evaluate;
pub mod fault;
pub mod inputs;
pub mod metrics;
pub mod period;
pub mod pipeline;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod state;
pub mod storage;
