//! The one integration-test binary. Each module holds one kind of test:
//!
//! - `worked_examples`: every worked example of metrics.md for the metrics
//!   that have SQL, run through the real queries and UDFs.
//! - `fixture`: a hand-made warehouse with the boundary cases, expected
//!   figures worked out in comments, through the whole binary; and the
//!   golden snapshots of its report.json and report.html.
//! - `catalog`: warehouse layouts, such as partition pruning.
//! - `cluster` (feature `ballista`): the report on Ballista's standalone
//!   cluster and on a scheduler and two executors on loopback reading
//!   moto's S3 server equals the local report.json; a table of many files
//!   counts each row once; a killed executor never gives wrong figures;
//!   an unreachable scheduler is exit 1.
//! - `metrics_sql`: per-metric SQL on small fixtures with hand-worked
//!   figures: support, delivery and engagement boundaries, business
//!   hours, version pins, data errors.
//! - `bad_input`: every bad input gives one clear error line and the right
//!   exit code, never a panic.
//! - `never_writes`: no command ever changes a byte under a warehouse
//!   root, whether it succeeds or fails.
//! - `corpus`: every malformed input of `tests/corpus/` through the
//!   binary: its exit code and error line, no panic, nothing sent, nothing
//!   outside `out/` touched.
//! - `parsers`: property tests: random bytes and random YAML and SQL
//!   header trees never make a parser panic.
//! - `at_risk`: each risk signal at its threshold and just past it, the
//!   weights and min_score from the config, and each account manager's
//!   own list.
//! - `drivers`: what moved a figure, on warehouses whose change is pure
//!   mix, pure rate or a sum of segment deltas worked out by hand.
//! - `email`: the e-mail as mail clients and browsers meet it: inline
//!   images by Content-ID, PNG sizes, alt text, the HTML size limit at
//!   scale 10, a data team's own metric, report.html in headless Chromium.
//! - `delivery`: SMTP as companies run it (STARTTLS and implicit TLS with
//!   a private CA, AUTH, the server from the URL alone), the headers a
//!   mail client shows, a wrong password and an untrusted certificate.
//! - `end_to_end`: the binary on generated demo warehouses: on disk, in a
//!   real S3-compatible server, and delivering through a real SMTP server.
//! - `independent`: every numeric metric against an independent
//!   implementation of metrics.md, on warehouses no other test uses (also
//!   with DOUBLE money and a partitioned table), and the identities that
//!   must hold between metrics.
//! - `reproducible`: the same week gives the same bytes in a single run,
//!   a backfill, run after run and with any number of partitions; money
//!   sums are exact.
//! - `s3`: the warehouse and the archive in a real S3-compatible server:
//!   the same figures as on disk (flat and partitioned), requests that do
//!   not grow with metrics or weeks, a fresh runner that never sends
//!   twice, and faults (500s, resets, silence, a missing bucket or
//!   prefix, refused credentials) through a proxy, each ending cleanly.
//! - `schedule`: `clientpulse schedule`: starts across daylight-saving
//!   changes, a run per start that survives a failure, catch-up only when
//!   asked, a clean stop on SIGTERM.
//! - `secrets`: recognisable secrets (S3 key, SMTP passwords) never reach
//!   stdout, stderr, report.json, the ledger or the outbox.
//! - `shared_tables`: the metrics that read the run's shared tables
//!   (`-- materialise: run`) give the figures of their versions that read
//!   raw events, in every week, segment and book, and inline when they do
//!   not fit in memory; a broken shared table names its file.
//! - `sql_logic`: the UDFs' SQL behaviour in `tests/slt/*.slt`.
//! - `windows`: the metrics that read their windows from the table
//!   `windows` (`-- windows: table`) compute a whole trend in one query
//!   and give the figures of their versions of one window per query, in
//!   every week, segment and book, across a daylight-saving change.

mod support;

mod at_risk;
mod bad_input;
mod catalog;
#[cfg(feature = "ballista")]
mod cluster;
mod corpus;
mod delivery;
mod drivers;
mod email;
mod end_to_end;
mod fixture;
mod independent;
mod metrics_sql;
mod never_writes;
mod parsers;
mod reproducible;
mod s3;
mod schedule;
mod secrets;
mod shared_tables;
mod sql_logic;
mod windows;
mod worked_examples;
