//! Persistence. One schema meaning, two backends: a SQLite file (the embedded
//! default, WAL) and PostgreSQL (several replicas). Each backend has its own
//! migration set under `engine/migrations/<backend>/`.
//!
//! Queries are written once: both backends accept `$1`-style parameters, and
//! [`with_pool!`] runs the same statement on whichever pool is open.
//!
//! Durability rule: a write answers success only after its commit
//! succeeded. Every write runs in an explicit transaction whose `commit` is
//! awaited, or is a single statement run with `execute` / `fetch_all`,
//! which step it to completion (the autocommit happens, and can fail, in the
//! last step). Never `fetch_one` / `fetch_optional` on a write outside a
//! transaction: SQLite commits such a statement when it is reset, sqlx
//! ignores that result, and on a full disk the caller got the id of a row
//! that was rolled back (`engine/tests/durability.rs` fills a real disk).
//!
//! Text that arrives from outside (provider error bodies, model and tool
//! output, log lines) is bounded before it is stored: see [`MAX_DETAIL_BYTES`],
//! [`MAX_LOG_LINE_BYTES`] and [`MAX_TRANSCRIPT_ENTRY_BYTES`].

mod accounts;
mod audit;
mod revision;
mod router;
mod runs;

pub use accounts::{SessionRow, TokenRow, UserRow};
pub use audit::{AuditEvent, AuditFilter, NewAuditEvent};
pub use revision::{read_revision_body, NewRevision, Revision};
pub use router::{CallStats, CircuitRow, CooldownRow, DecisionRow, Per, TranscriptEntry};
pub use runs::{Fire, LaneCounts, NewRun, Reschedule, RunEnd, RunFilter, JOB_CHANGED};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::Result;

/// Runs `$body` with `$pool` bound to the open backend's pool.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite($pool) => $body,
            $crate::store::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

#[derive(Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) backend: Backend,
}

impl std::fmt::Debug for Store {
    // Never print connection options: a URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish()
    }
}

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a decision's or cooldown's detail, a run's error or note that
/// is stored; the rest is cut with a marker saying how much.
pub const MAX_DETAIL_BYTES: usize = 8 * 1024;
/// The most of one run log line that is stored.
pub const MAX_LOG_LINE_BYTES: usize = 8 * 1024;
/// The largest transcript entry (its JSON) stored as it is; a larger one is
/// stored as `{"text": <the start of its JSON>, "truncated": true, "bytes": n}`.
pub const MAX_TRANSCRIPT_ENTRY_BYTES: usize = 1024 * 1024;
/// How much of an oversized transcript entry's JSON is kept: small enough
/// that even fully escaped it stays under [`MAX_TRANSCRIPT_ENTRY_BYTES`].
const TRANSCRIPT_EXCERPT_BYTES: usize = 64 * 1024;

/// `text` cut to at most `max` bytes (on a character boundary), ending in a
/// marker with the size of what was cut.
pub(crate) fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    // The marker's own length: at most this many digits.
    let marker_room = " … [cut: 00000000000000000000 bytes]".len();
    let mut end = max.saturating_sub(marker_room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{} … [cut: {} bytes]",
        &text[..end],
        text.len() - end
    ))
}

/// A transcript entry's body as stored (see [`MAX_TRANSCRIPT_ENTRY_BYTES`]).
pub(crate) fn bounded_transcript_body(body: &serde_json::Value) -> String {
    let text = body.to_string();
    if text.len() <= MAX_TRANSCRIPT_ENTRY_BYTES {
        return text;
    }
    serde_json::json!({
        "text": clip(&text, TRANSCRIPT_EXCERPT_BYTES),
        "truncated": true,
        "bytes": text.len(),
    })
    .to_string()
}

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and migrates it.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .before_acquire(|conn, _| Box::pin(async move { Ok(in_step(conn)) }))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store {
            backend: Backend::Sqlite(pool),
        })
    }

    /// Connects to PostgreSQL and migrates. With `schema`, every table lives in
    /// that schema (created if missing): tests use one schema each so they run
    /// in parallel on one database.
    pub async fn connect_postgres(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            let admin = PgPool::connect_with(options.clone()).await?;
            sqlx::query(&format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                quote_ident(schema)
            ))
            .execute(&admin)
            .await?;
            admin.close().await;
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .before_acquire(|conn, _| Box::pin(async move { Ok(in_step(conn)) }))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Store {
            backend: Backend::Postgres(pool),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// Whether a pooled connection may be handed out again: not if sqlx still
/// counts a transaction on it. After a COMMIT that failed (a full disk),
/// SQLite has already rolled back, so the ROLLBACK sqlx sends on drop fails
/// and its count stays at 1; the next `begin` on that connection then opens
/// a SAVEPOINT whose rollback leaves a real transaction open, and every later
/// write on it answered success inside a transaction that never committed,
/// while holding the write lock. Such a connection is closed instead (the
/// pool opens a fresh one). By the time a connection is idle, the rollback
/// queued when its transaction was dropped has run (the pool pings it on
/// release, behind that rollback).
fn in_step<C: sqlx::Connection>(conn: &C) -> bool {
    !conn.is_in_transaction()
}

/// Quotes a PostgreSQL identifier (schema names come from tests and flags).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
