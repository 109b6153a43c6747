//! The audit log: append-only (the database refuses updates and deletes).

use serde::{Deserialize, Serialize};

use super::{with_pool, Store};
pub use crate::identity::AuditEvent;
use crate::Result;

/// What to append; the id and time come from the store and the clock.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub at_ms: i64,
    pub actor: String,
    pub role: Option<String>,
    pub address: Option<String>,
    pub action: String,
    pub target: String,
    pub result: String,
    pub detail: String,
}

/// Audit filters; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// A prefix: `config` matches `config.put` and `config.rollback`.
    pub action: Option<String>,
    pub result: Option<String>,
    /// Only events with a smaller id (the next page).
    pub before: Option<i64>,
    pub limit: i64,
}

const COLUMNS: &str = "audit_id, at_ms, actor, role, address, action, target, result, detail";

/// Longest detail kept; details are messages, not payloads.
const MAX_DETAIL: usize = 2_000;

impl Store {
    pub async fn append_audit(&self, event: &NewAuditEvent) -> Result<()> {
        let detail = truncate(&event.detail, MAX_DETAIL);
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO audit_event (at_ms, actor, role, address, action, target, result, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(event.at_ms)
            .bind(&event.actor)
            .bind(&event.role)
            .bind(&event.address)
            .bind(&event.action)
            .bind(truncate(&event.target, 300))
            .bind(&event.result)
            .bind(detail)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    /// Newest first.
    pub async fn audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_event \
             WHERE ($1 IS NULL OR actor = $1) \
               AND ($2 IS NULL OR action = $2 OR action LIKE $3) \
               AND ($4 IS NULL OR result = $4) \
               AND ($5 IS NULL OR audit_id < $5) \
             ORDER BY audit_id DESC LIMIT $6"
        );
        let prefix = filter.action.as_ref().map(|a| format!("{a}.%"));
        Ok(with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(&filter.actor)
            .bind(&filter.action)
            .bind(&prefix)
            .bind(&filter.result)
            .bind(filter.before)
            .bind(filter.limit.clamp(1, 500))
            .fetch_all(pool)
            .await)?)
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
