//! Persistence. One schema meaning, two backends: a SQLite file (the embedded
//! default, WAL) and PostgreSQL (several replicas). Each backend has its own
//! migration set under `engine/migrations/<backend>/`.
//!
//! Queries are written once: both backends accept `$1`-style parameters, and
//! [`with_pool!`] runs the same statement on whichever pool is open.

mod accounts;
mod audit;
mod revision;
mod router;
mod runs;

pub use accounts::{SessionRow, TokenRow, UserRow};
pub use audit::{AuditEvent, AuditFilter, NewAuditEvent};
pub use revision::{NewRevision, Revision};
pub use router::{CallStats, CircuitRow, CooldownRow, DecisionRow, TranscriptEntry};
pub use runs::{Fire, LaneCounts, NewRun, Reschedule, RunEnd, RunFilter, JOB_CHANGED};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
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

/// Quotes a PostgreSQL identifier (schema names come from tests and flags).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
