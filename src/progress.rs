//! What a run tells the person (or CI log) watching it: which stage it is
//! in, and metric by metric while the queries run. The pipeline and the
//! metric fan-out call a [`Progress`] they are given; the CLI decides what
//! to show (a live line on a terminal, timings at the end).

/// Told as a run goes. Every method has a silent default.
pub trait Progress: Sync {
    /// A stage starts (`inputs`, `catalog`, `checks`, `metrics`, …).
    fn stage(&self, _name: &str) {}
    /// A metric's queries are done (`done` of `total`).
    fn metric(&self, _id: &str, _done: usize, _total: usize) {}
}

/// Tells no one: for tests and library callers.
pub struct Silent;

impl Progress for Silent {}
