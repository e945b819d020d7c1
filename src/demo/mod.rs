//! `clientpulse demo-data`: a deterministic, realistic demo warehouse in
//! the schema of warehouse.md.
//!
//! Every client lives a story drawn from its own random stream (seed and
//! client number), so the same seed and end date give the same bytes, and
//! clients can be generated one after another and streamed to disk: memory
//! does not grow with `--scale`. Stories include monthly, quarterly and
//! annual plans with discounts, upgrades, downgrades, churn and
//! reactivation; respondents who answer again; tickets left unanswered or
//! unresolved; late projects; and usage that grows or fades per client.

mod writer;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, NaiveTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use thiserror::Error;
use writer::{Cell, Kind, TableWriter, at, text};

use crate::fault::Fault;
use crate::storage::{self, Role, S3Settings, StorageError};

/// The demo warehouse's own marker: written first (incomplete) when the
/// generator claims an empty folder, and again (complete) when every table
/// is in place. A folder without it is never written to.
pub const COMPLETE_MARKER: &str = "_clientpulse_demo.json";
/// Where tables are written before they are moved into place, inside the
/// claimed folder so that nothing outside it is touched.
const STAGING: &str = ".clientpulse-staging";
/// The tables the generator writes (warehouse.md).
pub const TABLES: &[&str] = &[
    "clients",
    "subscriptions",
    "orders",
    "survey_responses",
    "tickets",
    "projects",
    "onboarding",
    "usage_events",
];
pub const DEFAULT_SEED: u64 = 42;
/// The reporting currency of the demo data.
pub const CURRENCY: &str = "EUR";

const DAY: i64 = 86_400_000_000;
const HOUR: i64 = 3_600_000_000;
const MINUTE: i64 = 60_000_000;
/// Days of subscription, order and survey history before the end date.
const HISTORY_DAYS: i64 = 730;
/// Days of usage history: enough for a 28-day window over a 12-week trend.
const USAGE_DAYS: i64 = 130;
const CLIENTS_PER_SCALE: usize = 120;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub scale: u32,
    pub seed: u64,
    /// The last day with data is the day before `end`.
    pub end: NaiveDate,
}

#[derive(Debug, Error)]
pub enum DemoError {
    /// The folder holds something the generator did not make.
    #[error(
        "refusing to write a demo warehouse into {path}: it holds {found}, and demo-data writes only into an empty folder or a demo warehouse it made itself (with its {COMPLETE_MARKER}); choose another folder"
    )]
    NotOurs { path: PathBuf, found: String },
    #[error("cannot write the demo warehouse at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The bucket or the way to it.
    #[error("{0}")]
    Storage(StorageError),
}

impl DemoError {
    pub fn fault(&self) -> Fault {
        match self {
            DemoError::NotOurs { .. } => Fault::Input,
            DemoError::Io { .. } => Fault::Internal,
            DemoError::Storage(error) if error.is_invalid_setting() => Fault::Input,
            DemoError::Storage(error) if error.is_access() => Fault::WarehouseAccess,
            DemoError::Storage(_) => Fault::Internal,
        }
    }
}

/// What the marker says.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Marker {
    scale: u32,
    seed: u64,
    end: String,
    currency: String,
    /// Markers of earlier versions were written last, so complete.
    #[serde(default = "complete_by_default")]
    complete: bool,
}

fn complete_by_default() -> bool {
    true
}

/// Makes the demo warehouse at `root` unless a complete one is there,
/// saying so on stderr: scale 1, the default seed, data until `now`.
pub fn ensure(root: &Path, now: chrono::DateTime<chrono::Utc>) -> Result<(), DemoError> {
    if is_complete(root) {
        return Ok(());
    }
    // Two first runs started together (a cron job and a user, or a
    // pipeline's jobs side by side) both find no warehouse: the second
    // waits for the first to make it, then uses it.
    let _held = hold(root)?;
    if is_complete(root) {
        return Ok(());
    }
    eprintln!(
        "clientpulse: no demo warehouse at {}; generating one (scale 1, ending {})",
        root.display(),
        now.date_naive()
    );
    generate_held(
        root,
        &DemoOptions {
            scale: 1,
            seed: DEFAULT_SEED,
            end: now.date_naive(),
        },
    )
}

/// Holds the folder `root` (made if missing) for this process until the
/// handle is dropped, waiting while another process holds it: two
/// generators in one folder would each delete the other's staged tables.
/// The lock is the folder's own (nothing is added to the warehouse) and
/// goes with the process. A `root` that is a file is not held: [`claim`]
/// refuses it.
fn hold(root: &Path) -> Result<Option<std::fs::File>, DemoError> {
    let io = |source| DemoError::Io {
        path: root.to_path_buf(),
        source,
    };
    match std::fs::metadata(root) {
        Ok(meta) if !meta.is_dir() => return Ok(None),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(root).map_err(io)?;
        }
        Err(error) => return Err(io(error)),
    }
    let folder = std::fs::File::open(root).map_err(io)?;
    folder.lock().map_err(io)?;
    Ok(Some(folder))
}

/// Whether `root` holds a complete demo warehouse made by the generator.
pub fn is_complete(root: &Path) -> bool {
    std::fs::read_to_string(root.join(COMPLETE_MARKER))
        .ok()
        .and_then(|text| serde_json::from_str::<Marker>(&text).ok())
        .is_some_and(|marker| marker.complete)
}

/// Writes the demo warehouse to `root`: a folder that does not exist, an
/// empty one, or a demo warehouse the generator made (whose tables it
/// replaces). Anything else is refused before a byte is written. Tables
/// are staged inside the claimed folder and moved into place at the end;
/// the marker says complete only once all of them are.
pub fn generate(root: &Path, options: &DemoOptions) -> Result<(), DemoError> {
    let _held = hold(root)?;
    generate_held(root, options)
}

/// [`generate`], `root` already held by this process.
fn generate_held(root: &Path, options: &DemoOptions) -> Result<(), DemoError> {
    claim(root, options)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io { path, source }
    };
    let staging = root.join(STAGING);
    if staging.exists() {
        // Left by an interrupted run inside a folder we own.
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    std::fs::create_dir(&staging).map_err(io(&staging))?;
    write_tables(&staging, options).map_err(io(&staging))?;
    for table in TABLES {
        let target = root.join(table);
        if target.is_dir() {
            std::fs::remove_dir_all(&target).map_err(io(&target))?;
        }
        std::fs::rename(staging.join(table), &target).map_err(io(&target))?;
    }
    std::fs::remove_dir(&staging).map_err(io(&staging))?;
    write_marker(root, options, true)
}

/// Writes the demo warehouse to `url`, a prefix of an S3-compatible bucket
/// (`s3://bucket/prefix`), under the same rule as a folder: the prefix must
/// hold nothing, or a demo warehouse the generator made. Tables are made in
/// a local temporary folder, then uploaded whole, one object each; the
/// marker says complete only once all of them are in the bucket.
pub async fn generate_remote(
    url: &str,
    options: &DemoOptions,
    s3: &S3Settings,
) -> Result<(), DemoError> {
    let place = storage::open(url, Role::DemoWarehouse, s3).map_err(DemoError::Storage)?;
    let mut names = place.list_names().await.map_err(DemoError::Storage)?;
    names.sort();
    let ours = names.iter().any(|name| name == COMPLETE_MARKER);
    let foreign: Vec<&String> = names
        .iter()
        .filter(|name| {
            let table = name.split('/').next().unwrap_or_default();
            !ours || !(name.as_str() == COMPLETE_MARKER || TABLES.contains(&table))
        })
        .collect();
    if let Some(first) = foreign.first() {
        return Err(DemoError::NotOurs {
            path: PathBuf::from(url),
            found: match foreign.len() {
                1 => format!("`{first}`"),
                n => format!("`{first}` and {} other objects", n - 1),
            },
        });
    }
    let marker = |complete| {
        serde_json::to_vec(&Marker {
            scale: options.scale,
            seed: options.seed,
            end: options.end.to_string(),
            currency: CURRENCY.to_string(),
            complete,
        })
        .unwrap_or_default()
    };
    place
        .write(COMPLETE_MARKER, marker(false))
        .await
        .map_err(DemoError::Storage)?;
    let staging = tempfile::Builder::new()
        .prefix("clientpulse-demo-")
        .tempdir()
        .map_err(|source| DemoError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    write_tables(staging.path(), options).map_err(|source| DemoError::Io {
        path: staging.path().to_path_buf(),
        source,
    })?;
    for table in TABLES {
        let folder = staging.path().join(table);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .and_then(|entries| entries.map(|entry| entry.map(|e| e.path())).collect())
            .map_err(|source| DemoError::Io {
                path: folder.clone(),
                source,
            })?;
        files.sort();
        for file in files {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            place
                .upload(&format!("{table}/{name}"), &file)
                .await
                .map_err(DemoError::Storage)?;
        }
    }
    place
        .write(COMPLETE_MARKER, marker(true))
        .await
        .map_err(DemoError::Storage)
}

/// Makes `root` the generator's own: checks that it is missing, empty or
/// already a demo warehouse, and writes an (incomplete) marker.
fn claim(root: &Path, options: &DemoOptions) -> Result<(), DemoError> {
    let io = |source| DemoError::Io {
        path: root.to_path_buf(),
        source,
    };
    let not_ours = |found: String| DemoError::NotOurs {
        path: root.to_path_buf(),
        found,
    };
    match std::fs::metadata(root) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(root).map_err(io)?;
        }
        Err(error) => return Err(io(error)),
        Ok(meta) if !meta.is_dir() => return Err(not_ours("a file, not a folder".to_string())),
        Ok(_) => {
            let mut names: Vec<String> = std::fs::read_dir(root)
                .map_err(io)?
                .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .map_err(io)?;
            names.sort();
            let ours = names.iter().any(|name| name == COMPLETE_MARKER);
            let foreign: Vec<&String> = names
                .iter()
                .filter(|name| {
                    !ours
                        || !(name.as_str() == COMPLETE_MARKER
                            || name.as_str() == STAGING
                            || TABLES.contains(&name.as_str()))
                })
                .collect();
            if let Some(first) = foreign.first() {
                return Err(not_ours(match foreign.len() {
                    1 => format!("`{first}`"),
                    n => format!("`{first}` and {} other entries", n - 1),
                }));
            }
        }
    }
    write_marker(root, options, false)
}

fn write_marker(root: &Path, options: &DemoOptions, complete: bool) -> Result<(), DemoError> {
    let path = root.join(COMPLETE_MARKER);
    let marker = Marker {
        scale: options.scale,
        seed: options.seed,
        end: options.end.to_string(),
        currency: CURRENCY.to_string(),
        complete,
    };
    let text = serde_json::to_string(&marker).map_err(|error| DemoError::Io {
        path: path.clone(),
        source: std::io::Error::other(error),
    })?;
    std::fs::write(&path, text + "\n").map_err(|source| DemoError::Io { path, source })
}

struct Tables {
    clients: TableWriter,
    subscriptions: TableWriter,
    orders: TableWriter,
    surveys: TableWriter,
    tickets: TableWriter,
    projects: TableWriter,
    onboarding: TableWriter,
    usage: TableWriter,
}

fn write_tables(dir: &Path, options: &DemoOptions) -> std::io::Result<()> {
    use Kind::*;
    let mut tables = Tables {
        clients: TableWriter::create(
            dir,
            "clients",
            &[
                ("client_id", Text),
                ("name", Text),
                ("segment", Text),
                ("region", Text),
                ("account_manager", Text),
                ("created_at", Timestamp),
            ],
        )?,
        subscriptions: TableWriter::create(
            dir,
            "subscriptions",
            &[
                ("subscription_id", Text),
                ("client_id", Text),
                ("plan", Text),
                ("amount", Money),
                ("currency", Text),
                ("billing_period_months", Int),
                ("discount_pct?", Fraction),
                ("started_at", Timestamp),
                ("ended_at?", Timestamp),
            ],
        )?,
        orders: TableWriter::create(
            dir,
            "orders",
            &[
                ("order_id", Text),
                ("client_id", Text),
                ("ordered_at", Timestamp),
                ("amount", Money),
                ("currency", Text),
            ],
        )?,
        surveys: TableWriter::create(
            dir,
            "survey_responses",
            &[
                ("response_id", Text),
                ("client_id", Text),
                ("respondent_id", Text),
                ("survey", Text),
                ("score", Int),
                ("scale_max", Int),
                ("comment?", Text),
                ("touchpoint?", Text),
                ("responded_at", Timestamp),
            ],
        )?,
        tickets: TableWriter::create(
            dir,
            "tickets",
            &[
                ("ticket_id", Text),
                ("client_id", Text),
                ("priority", Text),
                ("opened_at", Timestamp),
                ("first_response_at?", Timestamp),
                ("resolved_at?", Timestamp),
            ],
        )?,
        projects: TableWriter::create(
            dir,
            "projects",
            &[
                ("project_id", Text),
                ("client_id", Text),
                ("name", Text),
                ("due_at", Timestamp),
                ("completed_at?", Timestamp),
            ],
        )?,
        onboarding: TableWriter::create(
            dir,
            "onboarding",
            &[
                ("client_id", Text),
                ("started_at", Timestamp),
                ("completed_at?", Timestamp),
                ("target_days?", Int),
            ],
        )?,
        usage: TableWriter::create_by_week(
            dir,
            "usage_events",
            &[
                ("client_id", Text),
                ("user_id", Text),
                ("feature", Text),
                ("occurred_at", Timestamp),
            ],
            "occurred_at",
        )?,
    };
    let end = options
        .end
        .and_time(NaiveTime::MIN)
        .and_utc()
        .timestamp_micros();
    let clients = CLIENTS_PER_SCALE * options.scale.max(1) as usize;
    for number in 0..clients {
        let seed = options.seed ^ (number as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        ClientStory::draw(number, end, &mut rng).write(&mut tables, end, &mut rng)?;
    }
    for table in [
        tables.clients,
        tables.subscriptions,
        tables.orders,
        tables.surveys,
        tables.tickets,
        tables.projects,
        tables.onboarding,
        tables.usage,
    ] {
        table.finish()?;
    }
    Ok(())
}

const SEGMENTS: [(&str, f64); 3] = [("Enterprise", 0.15), ("Mid-Market", 0.35), ("SMB", 0.50)];
const REGIONS: [&str; 4] = ["EMEA", "North America", "APAC", "LATAM"];
const FEATURES: [&str; 6] = [
    "dashboards",
    "reports",
    "alerts",
    "exports",
    "api",
    "integrations",
];
const NAME_FIRST: [&str; 12] = [
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Hooli",
    "Vandelay",
    "O'Brien & Sons",
];
const NAME_SECOND: [&str; 8] = [
    "Analytics",
    "Logistics",
    "Health",
    "Retail",
    "Energy",
    "Foods",
    "Media",
    "<Labs>",
];
const PRAISE: [&str; 4] = [
    "Support answered within the hour, great team.",
    "The dashboards save us a day every week.",
    "Onboarding was smooth & well organised.",
    "Best tool we've bought this year.",
];
const COMPLAINTS: [&str; 4] = [
    "Reports are slow when the month closes.",
    "Took three emails to get an answer.",
    "Pricing went up without notice <again>.",
    "Exports break on \"special\" characters.",
];

/// One client's drawn traits; its events are derived from them.
struct ClientStory {
    id: String,
    segment: &'static str,
    created_at: i64,
    /// Monthly list price before discount.
    monthly_price: f64,
    billing_months: i32,
    discount: Option<f64>,
    /// Engagement at the start and at the end of history, 0..1.
    health_start: f64,
    health_end: f64,
    users: usize,
    respondents: usize,
    csat_scale: i32,
    churn_per_month: f64,
}

impl ClientStory {
    fn draw(number: usize, end: i64, rng: &mut ChaCha8Rng) -> ClientStory {
        let roll: f64 = rng.random();
        let segment = if roll < SEGMENTS[0].1 {
            SEGMENTS[0].0
        } else if roll < SEGMENTS[0].1 + SEGMENTS[1].1 {
            SEGMENTS[1].0
        } else {
            SEGMENTS[2].0
        };
        let (price, users, respondents, churn) = match segment {
            "Enterprise" => (
                rng.random_range(2000.0..9000.0),
                rng.random_range(12..40),
                rng.random_range(3..7),
                0.006,
            ),
            "Mid-Market" => (
                rng.random_range(400.0..1500.0),
                rng.random_range(5..15),
                rng.random_range(2..4),
                0.015,
            ),
            _ => (
                rng.random_range(49.0..199.0),
                rng.random_range(1..6),
                rng.random_range(1..3),
                0.03,
            ),
        };
        let billing_months = match rng.random_range(0..20) {
            0..=11 => 1,
            12..=14 => 3,
            _ => 12,
        };
        let discount = match rng.random_range(0..10) {
            0..=5 => None,
            6 => Some(0.0),
            7 => Some(0.1),
            8 => Some(0.15),
            _ => Some(0.2),
        };
        let health_start: f64 = rng.random_range(0.2..0.9);
        let health_end = (health_start + rng.random_range(-0.5..0.5)).clamp(0.05, 0.95);
        ClientStory {
            id: format!("C{:05}", number + 1),
            segment,
            created_at: end - rng.random_range(14..HISTORY_DAYS + 120) * DAY
                + rng.random_range(0..DAY),
            monthly_price: (price * 100.0f64).round() / 100.0,
            billing_months,
            discount,
            health_start,
            health_end,
            users,
            respondents,
            csat_scale: match rng.random_range(0..10) {
                0 => 7,
                1 => 10,
                _ => 5,
            },
            churn_per_month: churn,
        }
    }

    /// Engagement at instant `t`: drifts linearly from start to end.
    fn health(&self, t: i64, end: i64) -> f64 {
        let span = (end - self.created_at).max(1) as f64;
        let progress = ((t - self.created_at) as f64 / span).clamp(0.0, 1.0);
        self.health_start + (self.health_end - self.health_start) * progress
    }

    fn write(&self, tables: &mut Tables, end: i64, rng: &mut ChaCha8Rng) -> std::io::Result<()> {
        let name = format!(
            "{} {}",
            NAME_FIRST[rng.random_range(0..NAME_FIRST.len())],
            NAME_SECOND[rng.random_range(0..NAME_SECOND.len())]
        );
        tables.clients.push(vec![
            text(&self.id),
            text(name),
            text(self.segment),
            text(REGIONS[rng.random_range(0..REGIONS.len())]),
            text(format!("am{}@example.com", rng.random_range(1..6))),
            at(self.created_at),
        ])?;
        let paying = self.write_subscriptions(tables, end, rng)?;
        self.write_onboarding(tables, end, rng)?;
        self.write_surveys(tables, end, &paying, rng)?;
        self.write_tickets(tables, end, &paying, rng)?;
        self.write_projects(tables, end, rng)?;
        self.write_usage(tables, end, &paying, rng)
    }

    /// Subscription rows and their invoices; returns the paying spans.
    fn write_subscriptions(
        &self,
        tables: &mut Tables,
        end: i64,
        rng: &mut ChaCha8Rng,
    ) -> std::io::Result<Vec<(i64, i64)>> {
        let period = i64::from(self.billing_months) * 30 * DAY;
        let mut spans = Vec::new();
        let mut rows = 0;
        let mut orders = 0;
        let mut stint_start = self.created_at + rng.random_range(0..10) * DAY;
        while stint_start < end {
            // One paying stint: price rows back to back until churn.
            let mut monthly = self.monthly_price;
            let mut row_start = stint_start;
            let mut term_start = stint_start;
            let stint_end = loop {
                let terms = rng.random_range(1..=(12 / self.billing_months).max(2));
                let term_end = term_start + i64::from(terms) * period;
                let amount = monthly * f64::from(self.billing_months);
                let mut invoice = term_start;
                while invoice < term_end.min(end) {
                    orders += 1;
                    tables.orders.push(vec![
                        text(format!("{}-O{orders:04}", self.id)),
                        text(&self.id),
                        at(invoice + rng.random_range(0..HOUR)),
                        Cell::Money(cents(amount * (1.0 - self.discount.unwrap_or(0.0)))),
                        text(CURRENCY),
                    ])?;
                    invoice += period;
                }
                let months = (term_end - term_start) as f64 / (30.0 * DAY as f64);
                let monthly_risk = self.churn_per_month * (1.5 - self.health(term_end, end));
                let churns = rng.random::<f64>() < 1.0 - (1.0 - monthly_risk).powf(months);
                let change = match rng.random_range(0..100) {
                    0..=14 => Some(monthly * rng.random_range(1.2..1.6)),
                    15..=22 => Some(monthly * rng.random_range(0.6..0.85)),
                    _ => None,
                };
                let closes = term_end < end && (churns || change.is_some());
                if term_end >= end || closes {
                    rows += 1;
                    tables.subscriptions.push(vec![
                        text(format!("{}-S{rows:03}", self.id)),
                        text(&self.id),
                        text(plan_name(monthly)),
                        Cell::Money(cents(amount)),
                        text(CURRENCY),
                        Cell::Int(Some(self.billing_months)),
                        Cell::Fraction(self.discount),
                        at(row_start),
                        Cell::Timestamp((term_end < end).then_some(term_end)),
                    ])?;
                }
                if term_end >= end {
                    break end;
                }
                if churns {
                    break term_end;
                }
                if let Some(price) = change {
                    // An upgrade or downgrade ends the row; the next row
                    // starts at exactly the same instant.
                    monthly = (price * 100.0).round() / 100.0;
                    row_start = term_end;
                }
                term_start = term_end;
            };
            spans.push((stint_start, stint_end));
            // A quarter of churned clients come back after a while.
            if stint_end >= end || rng.random::<f64>() > 0.25 {
                break;
            }
            stint_start = stint_end + rng.random_range(30..200) * DAY;
        }
        Ok(spans)
    }

    fn write_onboarding(
        &self,
        tables: &mut Tables,
        end: i64,
        rng: &mut ChaCha8Rng,
    ) -> std::io::Result<()> {
        let target = match rng.random_range(0..4) {
            0 => None,
            1 => Some(14),
            2 => Some(45),
            _ => Some(30),
        };
        let deadline_days = i64::from(target.unwrap_or(30));
        let took = (deadline_days as f64 * rng.random_range(0.4..1.6)) as i64 * DAY
            + rng.random_range(0..DAY);
        let completed = self.created_at + took;
        let completed = (rng.random::<f64>() > 0.1 && completed < end).then_some(completed);
        tables.onboarding.push(vec![
            text(&self.id),
            at(self.created_at),
            Cell::Timestamp(completed),
            Cell::Int(target),
        ])
    }

    fn write_surveys(
        &self,
        tables: &mut Tables,
        end: i64,
        paying: &[(i64, i64)],
        rng: &mut ChaCha8Rng,
    ) -> std::io::Result<()> {
        let mut response = 0;
        for respondent in 1..=self.respondents {
            let respondent_id = format!("{}-R{respondent}", self.id);
            let mut t = self.created_at + rng.random_range(20..80) * DAY;
            while t < end {
                if is_paying(paying, t) {
                    let health = self.health(t, end);
                    for survey in ["nps", "csat", "ces"] {
                        if rng.random::<f64>() > 0.55 {
                            continue;
                        }
                        let (scale, score) = match survey {
                            "nps" => (10, skewed_score(rng, health, 0, 10)),
                            "csat" => (
                                self.csat_scale,
                                skewed_score(rng, health, 1, self.csat_scale),
                            ),
                            _ => (7, skewed_score(rng, health, 1, 7)),
                        };
                        let good = f64::from(score) / f64::from(scale) >= 0.75;
                        let comment = (rng.random::<f64>() < 0.3).then(|| {
                            if good {
                                PRAISE[rng.random_range(0..PRAISE.len())]
                            } else {
                                COMPLAINTS[rng.random_range(0..COMPLAINTS.len())]
                            }
                            .to_string()
                        });
                        let touchpoint = ["support", "onboarding", "project", "relationship"]
                            [rng.random_range(0..4)];
                        // Nothing on or after the end date: an answer late on
                        // the last day would be dated after it.
                        let responded = t + rng.random_range(0..DAY);
                        if responded >= end {
                            continue;
                        }
                        response += 1;
                        tables.surveys.push(vec![
                            text(format!("{}-A{response:05}", self.id)),
                            text(&self.id),
                            text(&respondent_id),
                            text(survey),
                            Cell::Int(Some(score)),
                            Cell::Int(Some(scale)),
                            Cell::Text(comment),
                            Cell::Text(Some(touchpoint.to_string())),
                            at(responded),
                        ])?;
                    }
                }
                // Respondents answer again every one to three months, so
                // a 90-day window often holds two answers of one person.
                t += rng.random_range(30..95) * DAY;
            }
        }
        Ok(())
    }

    fn write_tickets(
        &self,
        tables: &mut Tables,
        end: i64,
        paying: &[(i64, i64)],
        rng: &mut ChaCha8Rng,
    ) -> std::io::Result<()> {
        let per_week = self.users as f64 * 0.08 + 0.1;
        let mut t = end - 200 * DAY;
        let mut ticket = 0;
        loop {
            t += (-rng.random::<f64>().max(1e-12).ln() / per_week * 7.0 * DAY as f64) as i64;
            if t >= end {
                break;
            }
            if !is_paying(paying, t) {
                continue;
            }
            ticket += 1;
            let priority = ["low", "normal", "normal", "high", "urgent"][rng.random_range(0..5)];
            let response = t + (rng.random_range(2.0f64..400.0).powf(1.15) as i64) * MINUTE;
            let recent = end - t < 14 * DAY;
            let answered = rng.random::<f64>() > if recent { 0.15 } else { 0.0 };
            let first_response = (answered && response < end).then_some(response);
            let resolution = response + rng.random_range(1..96) * HOUR * rng.random_range(1..4);
            let resolved =
                (answered && rng.random::<f64>() > 0.08 && resolution < end).then_some(resolution);
            tables.tickets.push(vec![
                text(format!("{}-T{ticket:04}", self.id)),
                text(&self.id),
                text(priority),
                at(t),
                Cell::Timestamp(first_response),
                Cell::Timestamp(resolved),
            ])?;
        }
        Ok(())
    }

    fn write_projects(
        &self,
        tables: &mut Tables,
        end: i64,
        rng: &mut ChaCha8Rng,
    ) -> std::io::Result<()> {
        let count = match self.segment {
            "Enterprise" => rng.random_range(2..6),
            "Mid-Market" => rng.random_range(0..3),
            _ => 0,
        };
        for project in 1..=count {
            let start = end - rng.random_range(10..300) * DAY;
            let due = start + rng.random_range(20..90) * DAY;
            let lateness = rng.random_range(-15..25) * DAY + rng.random_range(0..DAY);
            let done = due + lateness;
            let completed = (rng.random::<f64>() > 0.1 && done < end).then_some(done);
            tables.projects.push(vec![
                text(format!("{}-P{project}", self.id)),
                text(&self.id),
                text(format!("{} rollout phase {project}", self.segment)),
                at(due),
                Cell::Timestamp(completed),
            ])?;
        }
        Ok(())
    }

    fn write_usage(
        &self,
        tables: &mut Tables,
        end: i64,
        paying: &[(i64, i64)],
        rng: &mut ChaCha8Rng,
    ) -> std::io::Result<()> {
        let first_day = end - USAGE_DAYS * DAY;
        for user in 1..=self.users {
            let user_id = format!("U{user:03}");
            let keenness: f64 = rng.random_range(0.3..1.2);
            let mut day = first_day;
            while day < end {
                if is_paying(paying, day) {
                    let p = (self.health(day, end) * keenness * 0.6).min(0.95);
                    if rng.random::<f64>() < p {
                        for _ in 0..rng.random_range(1..5) {
                            tables.usage.push(vec![
                                text(&self.id),
                                text(&user_id),
                                text(FEATURES[rng.random_range(0..FEATURES.len())]),
                                at(day + rng.random_range(7 * HOUR..20 * HOUR)),
                            ])?;
                        }
                    }
                }
                day += DAY;
            }
        }
        Ok(())
    }
}

fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

fn plan_name(monthly: f64) -> &'static str {
    match monthly {
        m if m >= 2000.0 => "enterprise",
        m if m >= 400.0 => "business",
        _ => "starter",
    }
}

fn is_paying(spans: &[(i64, i64)], t: i64) -> bool {
    spans.iter().any(|&(start, end)| start <= t && t < end)
}

/// A score on `min..=max`, high when `health` is high, with noise.
fn skewed_score(rng: &mut ChaCha8Rng, health: f64, min: i32, max: i32) -> i32 {
    // Most clients are fairly content; unhealthy ones drag the low end.
    let noisy = (0.3 + 0.7 * health + rng.random_range(-0.3..0.3)).clamp(0.0, 1.0);
    let span = f64::from(max - min);
    (f64::from(min) + (noisy * span).round()).clamp(f64::from(min), f64::from(max)) as i32
}
