//! The catalog on real layouts: a Hive-partitioned table is read whole and
//! pruned to the window's dates.

use chrono_tz::Tz;
use clientpulse::catalog::{NeededBy, Warehouse};
use clientpulse::metrics::{self, Parameters, QueryLibrary};
use clientpulse::period::Period;
use datafusion::physical_plan::displayable;

use crate::support::repo;
use crate::support::warehouse::{Fixture, Money, V};

fn event(client: &'static str, at: &'static str) -> Vec<V> {
    vec![V::S(client), V::S("u1"), V::S("reports"), V::T(at)]
}

#[test]
fn a_date_partitioned_table_is_pruned_to_the_window() {
    let dir = tempfile::tempdir().expect("tmp");
    // usage_events/date=…/part-0.parquet, one folder per day.
    for (date, at) in [
        ("2026-01-15", "2026-01-15T10:00:00Z"),
        ("2026-09-01", "2026-09-01T10:00:00Z"),
        ("2026-10-25", "2026-10-25T23:59:00Z"),
        ("2026-10-26", "2026-10-26T00:00:00Z"),
        ("2026-11-22", "2026-11-22T12:00:00Z"),
    ] {
        let day = Fixture::new(&dir.path().join(format!("day-{date}")), Money::Decimal);
        day.table("usage_events", &[event("A", at)]);
        let target = dir.path().join(format!("wh/usage_events/date={date}"));
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::rename(dir.path().join(format!("day-{date}/usage_events")), &target)
            .expect("move");
    }
    let root = dir.path().join("wh");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ctx = metrics::new_session(&Default::default(), &Default::default()).expect("session");
        let warehouse =
            Warehouse::open(&ctx, &root.display().to_string(), &Default::default()).expect("open");
        warehouse
            .register_tables(&ctx, &[("usage_events".to_string(), NeededBy::default())])
            .await
            .expect("register");
        let (library, _) = QueryLibrary::load(&repo().join("queries"));
        let query = library.select("stickiness", None).expect("stickiness");
        // 2026-W47, 28 days: [2026-10-26, 2026-11-23).
        let week = Period::parse("2026-W47", Tz::UTC).expect("week");
        let parameters = Parameters::new(&week, query.window, &Default::default());
        let frame = metrics::plan(&ctx, query, &parameters)
            .await
            .expect("plans");
        let plan = frame
            .clone()
            .create_physical_plan()
            .await
            .expect("physical plan");
        let text = displayable(plan.as_ref()).indent(true).to_string();
        assert!(text.contains("date=2026-11-22"), "{text}");
        assert!(text.contains("date=2026-10-26"), "{text}");
        for outside in ["date=2026-01-15", "date=2026-09-01"] {
            assert!(
                !text.contains(outside),
                "{outside} should be pruned:\n{text}"
            );
        }
        // The day before the window may be listed (UTC dates are a bound,
        // not exact), but its rows are still filtered out: 2 active days.
        let figure = metrics::run(&ctx, query, &parameters).await.expect("runs");
        assert_eq!(figure.sample_size, 1);
        assert_eq!(figure.value, Some(2.0 / 28.0));
    });
}
