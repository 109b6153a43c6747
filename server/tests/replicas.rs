//! Three `switchyard serve` processes on one PostgreSQL database: over two
//! thousand fires every fire is queued exactly once and run once, work is
//! shared, and the runs of a replica killed with SIGKILL are reaped by the
//! others once its lease runs out (DESIGN §5).

mod common;

use common::ServeProcess;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use std::time::{Duration, Instant};

fn admin_url() -> String {
    std::env::var("SWITCHYARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn start(url: &str, dir: &std::path::Path, name: &str) -> ServeProcess {
    let flags = [
        "--no-demo",
        "--lease-ms",
        "1500",
        "--cron-slots",
        "8",
        "--database-url",
        url,
    ];
    ServeProcess::spawn(&dir.join(name), &flags, "error").await
}

/// Waits for `check` to hold, polling the database (the event we wait for
/// is in there); gives up after `limit`.
async fn until<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut check: impl FnMut() -> F,
) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn three_replicas_run_every_fire_exactly_once() {
    let admin = PgPoolOptions::new()
        .max_connections(2)
        .connect(&admin_url())
        .await
        .expect("PostgreSQL for the replica test");
    let db = format!("switchyard_replicas_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("{}/{db}", admin_url().rsplit_once('/').unwrap().0);
    let dir = tempfile::tempdir().unwrap();

    let a = start(&url, dir.path(), "a").await;
    // 60 jobs every second on a sim model that streams for ~0.1 s (so a
    // killed replica has runs in flight), anchored a moment from now.
    let anchor = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 2_000;
    let jobs: Vec<Value> = (0..60)
        .map(|i| json!({"id": format!("j{i:03}"), "agentId": format!("agent-{}", i % 20), "message": "tick",
                        "schedule": {"kind": "every", "everyMs": 1000, "anchorMs": anchor}}))
        .collect();
    let entries: serde_json::Map<String, Value> =
        (0..20).map(|i| (format!("agent-{i}"), json!({}))).collect();
    let config = json!({
        "providers": {"sim": {"kind": "sim", "models": ["ok"], "scripts": {"ok": "slow(30)"}}},
        "agents": {"defaults": {"model": {"primary": "sim/ok"}, "embeddedHarness": {"runtime": "pi"}}, "entries": entries},
        "cron": {"jobs": jobs}
    });
    a.put_config(config).await;
    let b = start(&url, dir.path(), "b").await;
    let mut c = start(&url, dir.path(), "c").await;

    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // Kill one replica with runs in flight once a thousand fires are in.
    until(Duration::from_secs(60), || async {
        count("SELECT COUNT(*) FROM run").await >= 1000
    })
    .await;
    let c_pid = c.child.id();
    let c_running =
        format!("SELECT COUNT(*) FROM run WHERE status = 'running' AND owner LIKE '%:{c_pid}:%'");
    until(Duration::from_secs(60), || {
        let (pool, sql) = (pool.clone(), c_running.clone());
        async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(&pool)
                .await
                .unwrap()
                > 0
        }
    })
    .await;
    c.kill();
    until(Duration::from_secs(60), || async {
        count("SELECT COUNT(*) FROM run").await >= 2200
    })
    .await;

    // Stop firing, then let the survivors drain and reap.
    let mut doc = a.get_json("/api/v1/config").await;
    for job in doc["config"]["cron"]["jobs"].as_array_mut().unwrap() {
        job["enabled"] = json!(false);
    }
    let disabled_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    a.put_config(doc["config"].clone()).await;
    until(Duration::from_secs(60), || async {
        count("SELECT COUNT(*) FROM run WHERE status IN ('queued', 'running')").await == 0
    })
    .await;

    // Every fire exactly once: per job, the fires form an unbroken series
    // from the anchor, each with exactly one run.
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT job_id, COUNT(*), MIN(scheduled_for_ms), MAX(scheduled_for_ms) FROM run GROUP BY job_id ORDER BY job_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 60);
    let mut fires = 0;
    for (job, n, first, last) in &rows {
        assert_eq!(*first, anchor, "{job} started at the anchor");
        assert_eq!(
            *n,
            (last - first) / 1000 + 1,
            "{job}: no fire missing, none twice"
        );
        fires += n;
    }
    let by_status: Vec<(String, Option<String>, i64)> =
        sqlx::query_as("SELECT status, error_class, COUNT(*) FROM run GROUP BY status, error_class ORDER BY 3 DESC")
            .fetch_all(&pool)
            .await
            .unwrap();
    let owners: Vec<(Option<String>, i64)> =
        sqlx::query_as("SELECT owner, COUNT(*) FROM run GROUP BY owner")
            .fetch_all(&pool)
            .await
            .unwrap();
    eprintln!("fires {fires}; by status {by_status:?}; by owner {owners:?}");
    for (status, class, n) in &by_status {
        let reaped = status == "error" && class.as_deref() == Some("abandoned");
        // Fires claimed ahead (up to the 2 s lookahead) for instants after
        // the jobs were disabled are closed unrun.
        let overtaken = status == "skipped" && class.as_deref() == Some("job_changed");
        assert!(
            status == "ok" || reaped || overtaken,
            "unexpected {status}/{class:?} × {n}"
        );
    }
    let (overtaken, earliest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(scheduled_for_ms) FROM run WHERE status = 'skipped' AND error_class = 'job_changed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        overtaken <= 60 * 3,
        "at most the lookahead's fires per job: {overtaken}"
    );
    if let Some(earliest) = earliest {
        assert!(
            earliest >= disabled_at,
            "only fires due after the jobs were disabled are skipped ({earliest} < {disabled_at})"
        );
    }
    let c_owned: i64 = owners
        .iter()
        .filter(|(o, _)| {
            o.as_deref()
                .is_some_and(|o| o.split(':').nth(1) == Some(&c_pid.to_string()))
        })
        .map(|(_, n)| n)
        .sum();
    assert!(c_owned > 0, "the killed replica had done work");
    let reaped: i64 = by_status
        .iter()
        .filter(|(s, c, _)| s == "error" && c.as_deref() == Some("abandoned"))
        .map(|(_, _, n)| n)
        .sum();
    assert!(
        reaped > 0,
        "the killed replica's runs in flight were reaped by the others"
    );
    assert!(
        owners.iter().filter(|(o, _)| o.is_some()).count() >= 3,
        "all three replicas ran fires"
    );
    let stuck: i64 = count("SELECT COUNT(*) FROM job_state WHERE running_at_ms IS NOT NULL").await;
    assert_eq!(stuck, 0, "no job left marked running");

    drop((a, b));
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
