//! What the benches share: the PostgreSQL they run against, percentiles,
//! the Markdown table they print, and cleaning up their schemas.
#![allow(dead_code)]

use std::time::Duration;

pub fn postgres_url() -> String {
    std::env::var("SWITCHYARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub struct Stats {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub n: usize,
}

pub fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    let n = times.len();
    assert!(n > 0, "no samples");
    Stats {
        p50: times[n / 2],
        p99: times[(n * 99 / 100).min(n - 1)],
        max: times[n - 1],
        n,
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A Markdown table whose first column is `width` characters wide.
pub struct Table {
    pub width: usize,
}

impl Table {
    pub fn header(&self) {
        let w = self.width;
        println!(
            "| {:<w$} | {:>9} | {:>9} | {:>6} | notes |",
            "measurement", "p50 (ms)", "p99 (ms)", "n"
        );
        println!(
            "|{}|----------:|----------:|-------:|-------|",
            "-".repeat(w + 2)
        );
    }

    pub fn row(&self, name: &str, s: &Stats, notes: &str) {
        let w = self.width;
        println!(
            "| {name:<w$} | {:>9.3} | {:>9.3} | {:>6} | {notes} |",
            ms(s.p50),
            ms(s.p99),
            s.n
        );
    }
}

/// Drops a bench's PostgreSQL schema, also when the bench panics.
pub struct SchemaGuard(pub String);

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let schema = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}
