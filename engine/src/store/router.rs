//! Router state: cooldowns, circuits, decisions and transcripts. Everything
//! the router knows about provider health lives here, not in memory, so it
//! survives a restart and every replica sees the same cooldowns.

use serde::{Deserialize, Serialize};

use super::{bounded_transcript_body, clip, with_pool, Store, MAX_DETAIL_BYTES};
pub use crate::health::DecisionRow;
use crate::Result;

/// A (provider, model) that failed recently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CooldownRow {
    pub provider: String,
    pub model: String,
    pub failures: i64,
    /// 0 while failures are only being counted.
    pub until_ms: i64,
    pub reason: String,
    pub detail: String,
    pub probe_until_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CircuitRow {
    pub provider: String,
    pub failures: i64,
    pub open_until_ms: i64,
    pub times_opened: i64,
    pub probe_until_ms: i64,
}

/// What attempt statistics are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Provider,
    Harness,
}

impl Per {
    fn column(self) -> &'static str {
        match self {
            Per::Provider => "provider",
            Per::Harness => "harness",
        }
    }
}

/// An attempt's end: a success or a failure, not a skip; and not a cancel,
/// which says nothing about the provider or the harness.
const ATTEMPT_OUTCOME: &str =
    "decision IN ('candidate_failed', 'candidate_succeeded') AND reason <> 'cancelled'";

/// Calls and failures per provider over a window, by class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStats {
    pub provider: String,
    pub calls: i64,
    pub succeeded: i64,
    /// (class, count), most frequent first.
    pub failures: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptEntry {
    pub seq: i64,
    pub at_ms: i64,
    pub kind: String,
    pub body: serde_json::Value,
}

/// (table, provider, model, failures, until, reason, detail, probe until, times opened)
type HealthTuple = (String, String, String, i64, i64, String, String, i64, i64);
type DecisionTuple = (
    i64,
    String,
    i64,
    i64,
    Option<String>,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
);

const DECISION_COLUMNS: &str =
    "decision_id, run_id, attempt, at_ms, agent_id, requested, candidate, \
     provider, model, harness, decision, reason, next, detail, latency_ms";

fn decision_from(t: DecisionTuple) -> DecisionRow {
    let (
        id,
        run_id,
        attempt,
        at_ms,
        agent_id,
        requested,
        candidate,
        provider,
        model,
        harness,
        decision,
        reason,
        next,
        detail,
        latency_ms,
    ) = t;
    DecisionRow {
        id,
        run_id,
        attempt,
        at_ms,
        agent_id,
        requested,
        candidate,
        provider,
        model,
        harness,
        decision,
        reason,
        next,
        detail,
        latency_ms,
    }
}

impl Store {
    /// Every row that says something is wrong: one small read (one round
    /// trip) per routed call.
    pub async fn router_health(&self) -> Result<(Vec<CooldownRow>, Vec<CircuitRow>)> {
        let sql = "SELECT 'm', provider, model, failures, until_ms, reason, detail, probe_until_ms, \
                   CAST(0 AS BIGINT) FROM model_cooldown \
                   UNION ALL \
                   SELECT 'c', provider, '', failures, open_until_ms, '', '', probe_until_ms, times_opened \
                   FROM provider_circuit";
        let rows: Vec<HealthTuple> =
            with_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await)?;
        let (mut cooldowns, mut circuits) = (Vec::new(), Vec::new());
        for (
            table,
            provider,
            model,
            failures,
            until_ms,
            reason,
            detail,
            probe_until_ms,
            times_opened,
        ) in rows
        {
            if table == "m" {
                cooldowns.push(CooldownRow {
                    provider,
                    model,
                    failures,
                    until_ms,
                    reason,
                    detail,
                    probe_until_ms,
                });
            } else {
                circuits.push(CircuitRow {
                    provider,
                    failures,
                    open_until_ms: until_ms,
                    times_opened,
                    probe_until_ms,
                });
            }
        }
        Ok((cooldowns, circuits))
    }

    /// Records a failure. `until_ms` only ever moves later: two replicas
    /// reporting the same model at once keep the longer cooldown.
    pub async fn put_cooldown(&self, row: &CooldownRow, now_ms: i64) -> Result<()> {
        let sql = "INSERT INTO model_cooldown \
                   (provider, model, failures, until_ms, reason, detail, probe_owner, probe_until_ms, updated_at_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, $7) \
                   ON CONFLICT (provider, model) DO UPDATE SET \
                   failures = excluded.failures, \
                   until_ms = CASE WHEN model_cooldown.until_ms > excluded.until_ms \
                              THEN model_cooldown.until_ms ELSE excluded.until_ms END, \
                   reason = excluded.reason, detail = excluded.detail, \
                   probe_owner = NULL, probe_until_ms = 0, updated_at_ms = excluded.updated_at_ms";
        let detail = clip(&row.detail, MAX_DETAIL_BYTES);
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&row.provider).bind(&row.model).bind(row.failures).bind(row.until_ms)
            .bind(&row.reason).bind(detail.as_ref()).bind(now_ms)
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn clear_cooldown(&self, provider: &str, model: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM model_cooldown WHERE provider = $1 AND model = $2")
            .bind(provider).bind(model).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Claims the single probe of a model whose cooldown has ended. Exactly
    /// one caller across all replicas gets `true` until `lease_until_ms`.
    pub async fn claim_cooldown_probe(
        &self,
        provider: &str,
        model: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool> {
        let sql = "UPDATE model_cooldown SET probe_owner = $3, probe_until_ms = $5 \
                   WHERE provider = $1 AND model = $2 AND until_ms > 0 AND until_ms <= $4 \
                   AND probe_until_ms <= $4";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(provider).bind(model).bind(owner).bind(now_ms).bind(lease_until_ms)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn put_circuit(&self, row: &CircuitRow, now_ms: i64) -> Result<()> {
        let sql = "INSERT INTO provider_circuit \
                   (provider, failures, open_until_ms, times_opened, probe_owner, probe_until_ms, updated_at_ms) \
                   VALUES ($1, $2, $3, $4, NULL, 0, $5) \
                   ON CONFLICT (provider) DO UPDATE SET failures = excluded.failures, \
                   open_until_ms = excluded.open_until_ms, times_opened = excluded.times_opened, \
                   probe_owner = NULL, probe_until_ms = 0, updated_at_ms = excluded.updated_at_ms";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(&row.provider).bind(row.failures).bind(row.open_until_ms).bind(row.times_opened).bind(now_ms)
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn clear_circuit(&self, provider: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("DELETE FROM provider_circuit WHERE provider = $1")
            .bind(provider).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The half-open probe of an open circuit: one caller across replicas.
    pub async fn claim_circuit_probe(
        &self,
        provider: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<bool> {
        let sql = "UPDATE provider_circuit SET probe_owner = $2, probe_until_ms = $4 \
                   WHERE provider = $1 AND open_until_ms > 0 AND open_until_ms <= $3 \
                   AND probe_until_ms <= $3";
        let done = with_pool!(self, pool => sqlx::query(sql)
            .bind(provider).bind(owner).bind(now_ms).bind(lease_until_ms)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// Stores a decision; its id is answered only once it is committed.
    /// The detail (a provider's error text) is cut at [`MAX_DETAIL_BYTES`].
    pub async fn insert_decision(&self, d: &DecisionRow) -> Result<i64> {
        let sql = "INSERT INTO decision (run_id, attempt, at_ms, agent_id, requested, candidate, provider, \
                   model, harness, decision, reason, next, detail, latency_ms) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING decision_id";
        let detail = clip(&d.detail, MAX_DETAIL_BYTES);
        let id = with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(sql)
                .bind(&d.run_id).bind(d.attempt).bind(d.at_ms).bind(&d.agent_id).bind(&d.requested)
                .bind(&d.candidate).bind(&d.provider).bind(&d.model).bind(&d.harness).bind(&d.decision)
                .bind(&d.reason).bind(&d.next).bind(detail.as_ref()).bind(d.latency_ms)
                .fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok::<i64, sqlx::Error>(id)
        }.await)?;
        Ok(id)
    }

    /// Newest first; `provider` narrows to one provider.
    pub async fn recent_decisions(
        &self,
        provider: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DecisionRow>> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decision WHERE ($1 IS NULL OR provider = $1) \
             ORDER BY decision_id DESC LIMIT $2"
        );
        let rows: Vec<DecisionTuple> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(provider).bind(limit).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(decision_from).collect())
    }

    /// In order.
    pub async fn run_decisions(&self, run_id: &str) -> Result<Vec<DecisionRow>> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decision WHERE run_id = $1 ORDER BY decision_id"
        );
        let rows: Vec<DecisionTuple> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(run_id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(decision_from).collect())
    }

    /// Attempts (succeeded or failed) per provider and class since `since_ms`.
    pub async fn call_stats(&self, since_ms: i64) -> Result<Vec<CallStats>> {
        self.attempt_stats(Per::Provider, since_ms).await
    }

    /// The same per harness (`codex`, `native`); `provider` holds the harness.
    pub async fn harness_stats(&self, since_ms: i64) -> Result<Vec<CallStats>> {
        self.attempt_stats(Per::Harness, since_ms).await
    }

    async fn attempt_stats(&self, per: Per, since_ms: i64) -> Result<Vec<CallStats>> {
        let col = per.column();
        // An attempt the run's cancel cut short says nothing about the
        // provider: counted, one operator's cancel read as "degraded".
        let sql = format!(
            "SELECT {col}, decision, reason, COUNT(*) FROM decision \
             WHERE at_ms >= $1 AND {ATTEMPT_OUTCOME} \
             GROUP BY {col}, decision, reason ORDER BY {col}"
        );
        let rows: Vec<(String, String, String, i64)> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(since_ms).fetch_all(pool).await)?;
        let mut stats: Vec<CallStats> = Vec::new();
        for (provider, decision, reason, count) in rows {
            if stats.last().is_none_or(|s| s.provider != provider) {
                stats.push(CallStats {
                    provider: provider.clone(),
                    ..CallStats::default()
                });
            }
            let s = stats.last_mut().expect("pushed above");
            s.calls += count;
            if decision == "candidate_succeeded" {
                s.succeeded += count;
            } else {
                s.failures.push((reason, count));
            }
        }
        for s in &mut stats {
            s.failures
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        Ok(stats)
    }

    /// The newest attempt outcome since `since_ms` per provider or per
    /// harness (a cancel left out, as in [`Self::call_stats`]).
    pub async fn latest_outcomes(&self, per: Per, since_ms: i64) -> Result<Vec<DecisionRow>> {
        let col = per.column();
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decision WHERE decision_id IN \
             (SELECT MAX(decision_id) FROM decision WHERE at_ms >= $1 AND {ATTEMPT_OUTCOME} GROUP BY {col})"
        );
        let rows: Vec<DecisionTuple> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(since_ms).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(decision_from).collect())
    }

    /// The newest failed attempt in `harness` whose class is one of
    /// `classes`, however old.
    pub async fn last_failure_in(
        &self,
        harness: &str,
        classes: &[&str],
    ) -> Result<Option<DecisionRow>> {
        // The classes are the failure taxonomy's own names, never input.
        debug_assert!(classes
            .iter()
            .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        let list = classes
            .iter()
            .map(|c| format!("'{c}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM decision WHERE harness = $1 \
             AND decision = 'candidate_failed' AND reason IN ({list}) \
             ORDER BY decision_id DESC LIMIT 1"
        );
        let row: Option<DecisionTuple> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(harness).fetch_optional(pool).await)?;
        Ok(row.map(decision_from))
    }

    /// Appends a transcript entry; one larger than
    /// [`super::MAX_TRANSCRIPT_ENTRY_BYTES`] is stored as an excerpt.
    pub async fn append_transcript(
        &self,
        run_id: &str,
        seq: i64,
        at_ms: i64,
        kind: &str,
        body: &serde_json::Value,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO transcript_entry (run_id, seq, at_ms, kind, body) VALUES ($1, $2, $3, $4, $5)")
            .bind(run_id).bind(seq).bind(at_ms).bind(kind).bind(bounded_transcript_body(body))
            .execute(pool).await.map(drop))?;
        Ok(())
    }

    pub async fn transcript(&self, run_id: &str) -> Result<Vec<TranscriptEntry>> {
        let rows: Vec<(i64, i64, String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT seq, at_ms, kind, body FROM transcript_entry WHERE run_id = $1 ORDER BY seq")
            .bind(run_id).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(seq, at_ms, kind, body)| TranscriptEntry {
                seq,
                at_ms,
                kind,
                body: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
            })
            .collect())
    }
}
