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
    /// One query ran: what it cost, for `run --profile`.
    fn query(&self, _cost: &QueryCost) {}
}

/// What one run of one metric's query cost. Plain data: the metrics stage
/// measures it, the CLI writes it out (one JSON line per query).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueryCost {
    /// The metric id.
    pub metric: String,
    /// Which figures: `trend`, `segment <column>=<value>` or
    /// `book <column>=<value>`; `shared` for a shared table the week's
    /// metrics read.
    pub scope: String,
    /// The week the query's window ends with (`2026-W47`); the last, for
    /// a windowed query.
    pub week: String,
    /// How many weeks' figures the query gave: 1, or every week a
    /// windowed query (`-- windows: table`) computed at once; 0 for a
    /// shared table.
    pub windows: usize,
    /// Wall time from planning to the last row, in seconds.
    pub seconds: f64,
    /// Of `seconds`, the time spent planning: SQL to logical plan,
    /// parameters bound, optimised, physical plan built. On a small
    /// warehouse most of a query's time is here.
    pub planning_seconds: f64,
    /// Rows each warehouse table gave the query after pruning (files, row
    /// groups, pages), by table; `(in memory)` for a slice held in memory.
    pub rows_read: std::collections::BTreeMap<String, u64>,
    /// The query ran out of memory beside another and ran again alone
    /// (the cost is that of the run alone).
    pub ran_again_alone: bool,
    /// For a shared table (scope `shared`): the bytes it holds in memory
    /// for the week, or `null` when it did not fit in its share of
    /// `engine.memory_limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_bytes: Option<Option<u64>>,
    /// For a shared table that did not fit in memory: the bytes of the
    /// file it was written to in the spill folder, where its metrics read
    /// it; `null` when it is not on disk either and its metrics compute
    /// it inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_disk_bytes: Option<Option<u64>>,
}

/// Tells no one: for tests and library callers.
pub struct Silent;

impl Progress for Silent {}
