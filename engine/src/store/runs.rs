//! Runs and job state. Every change to a run that affects its job (start,
//! finish, reap) updates the job's state in the same transaction, so the two
//! never disagree — the seed's job that stayed `runningAtMs` after its run
//! died cannot happen here.

use sqlx::FromRow;
use std::collections::{HashMap, HashSet};

use super::{clip, with_pool, Backend, Store, MAX_DETAIL_BYTES, MAX_LOG_LINE_BYTES};
use crate::runs::{JobState, RunRecord, RunStatus};
use crate::{Error, Result};

/// The job-state half of closing a run, inside the caller's transaction
/// (a macro: the statement is the same on both backends, the transaction
/// types are not). `$streak` is [`streak_step`] of the run's status.
macro_rules! close_job_state {
    ($tx:expr, $run_id:expr, $status:expr, $error:expr, $class:expr, $streak:expr, $now:expr) => {
        sqlx::query(
            "UPDATE job_state SET running_at_ms = NULL, last_run_at_ms = $2, last_status = $3, \
             last_error = $4, last_error_class = $5, \
             last_duration_ms = (SELECT duration_ms FROM run WHERE run_id = $1), \
             consecutive_errors = CASE WHEN $6 < 0 THEN 0 ELSE consecutive_errors + $6 END, updated_at_ms = $2 \
             WHERE job_id = (SELECT job_id FROM run WHERE run_id = $1)",
        )
        .bind($run_id)
        .bind($now)
        .bind($status)
        .bind($error)
        .bind($class)
        .bind($streak)
        .execute(&mut *$tx)
        .await
    };
}

/// How a run's end moves its job's `consecutive_errors`: `-1` resets it (a
/// success), `0` leaves it (a cancel, the operator's or a shutdown's: not
/// the job failing, and not a success either), `1` adds one.
fn streak_step(status: RunStatus) -> i64 {
    match status {
        RunStatus::Ok => -1,
        RunStatus::Cancelled => 0,
        _ => 1,
    }
}

#[derive(FromRow)]
struct RunRow {
    run_id: String,
    job_id: String,
    agent_id: String,
    trigger: String,
    scheduled_for_ms: Option<i64>,
    status: String,
    queued_at_ms: i64,
    started_at_ms: Option<i64>,
    finished_at_ms: Option<i64>,
    duration_ms: Option<i64>,
    deadline_ms: Option<i64>,
    error: Option<String>,
    error_class: Option<String>,
    note: Option<String>,
    model: Option<String>,
    harness: Option<String>,
    fallback_used: i64,
    input_tokens: i64,
    output_tokens: i64,
    attempts: i64,
    lane: String,
    lane_wait_ms: Option<i64>,
    queue_ahead: Option<i64>,
    owner: Option<String>,
}

const RUN_COLUMNS: &str = "run_id, job_id, agent_id, trigger, scheduled_for_ms, status, queued_at_ms, \
     started_at_ms, finished_at_ms, duration_ms, deadline_ms, error, error_class, note, model, harness, \
     fallback_used, input_tokens, output_tokens, attempts, lane, lane_wait_ms, queue_ahead, owner";

impl TryFrom<RunRow> for RunRecord {
    type Error = Error;
    fn try_from(r: RunRow) -> Result<Self> {
        let corrupt = |message: String| Error::Corrupt {
            what: format!("run {}", r.run_id),
            message,
        };
        Ok(RunRecord {
            trigger: r.trigger.parse().map_err(corrupt)?,
            status: r.status.parse().map_err(corrupt)?,
            run_id: r.run_id,
            job_id: r.job_id,
            agent_id: r.agent_id,
            scheduled_for_ms: r.scheduled_for_ms,
            queued_at_ms: r.queued_at_ms,
            started_at_ms: r.started_at_ms,
            finished_at_ms: r.finished_at_ms,
            duration_ms: r.duration_ms,
            deadline_ms: r.deadline_ms,
            error: r.error,
            error_class: r.error_class,
            note: r.note,
            model: r.model,
            harness: r.harness,
            fallback_used: r.fallback_used != 0,
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            attempts: r.attempts,
            lane: r.lane,
            lane_wait_ms: r.lane_wait_ms,
            queue_ahead: r.queue_ahead,
            owner: r.owner,
        })
    }
}

#[derive(FromRow)]
struct JobStateRow {
    job_id: String,
    next_run_at_ms: Option<i64>,
    running_at_ms: Option<i64>,
    last_run_at_ms: Option<i64>,
    last_status: Option<String>,
    last_error: Option<String>,
    last_error_class: Option<String>,
    last_duration_ms: Option<i64>,
    consecutive_errors: i64,
}

impl From<JobStateRow> for JobState {
    fn from(r: JobStateRow) -> Self {
        JobState {
            job_id: r.job_id,
            next_run_at_ms: r.next_run_at_ms,
            running_at_ms: r.running_at_ms,
            last_run_at_ms: r.last_run_at_ms,
            last_status: r.last_status,
            last_error: r.last_error,
            last_error_class: r.last_error_class,
            last_duration_ms: r.last_duration_ms,
            consecutive_errors: r.consecutive_errors,
        }
    }
}

/// A run about to be queued.
pub struct NewRun<'a> {
    pub job_id: &'a str,
    pub agent_id: &'a str,
    pub lane: &'a str,
    pub queued_at_ms: i64,
    pub deadline_ms: Option<i64>,
}

/// One due fire to claim (see [`Store::fire_many`]).
pub struct Fire<'a> {
    /// `queued_at_ms` is the fire's instant for a fire claimed ahead of it
    /// (the dispatcher starts no run before its `queued_at_ms`), else the
    /// tick's time.
    pub run: NewRun<'a>,
    /// The schedule fingerprint the fire was planned from; the claim fails
    /// if the job's stored one differs (a replica with an older config).
    pub schedule_fp: &'a str,
    pub expected_next: i64,
    pub scheduled_for_ms: i64,
    pub next_run_at_ms: Option<i64>,
    pub skip: bool,
    pub note: Option<String>,
}

/// Queued and running runs per lane, counted once per tick and counted on
/// as its batches of fires are claimed: each claimed fire's queue position.
/// Runs that end while the tick claims are not subtracted (the position is
/// what the run saw when it was queued, give or take the tick).
#[derive(Debug, Default)]
pub struct LaneCounts(HashMap<String, i64>);

/// A job whose stored next fire no longer matches the config (see
/// [`Store::reschedule`]).
#[derive(Debug, Clone)]
pub struct Reschedule {
    pub job_id: String,
    /// The fingerprint read before (`None`: NULL); the change applies only
    /// if it is still the stored one, so one replica applies it.
    pub expected_fp: Option<String>,
    pub schedule_fp: String,
    pub next_run_at_ms: Option<i64>,
    /// Fires claimed ahead that no longer hold: (run id, why).
    pub skip: Vec<(String, String)>,
}

/// The class of a claimed fire closed as `skipped` because its job was
/// disabled, removed or rescheduled before the fire's instant.
pub const JOB_CHANGED: &str = "job_changed";

/// How a run ended.
pub struct RunEnd<'a> {
    pub status: RunStatus,
    pub error: Option<&'a str>,
    pub error_class: Option<&'a str>,
    pub model: Option<&'a str>,
    pub harness: Option<&'a str>,
    pub fallback_used: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub attempts: i64,
}

/// Filters of the Runs page and `GET /api/v1/runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub agent_id: Option<String>,
    pub job_id: Option<String>,
    pub status: Option<RunStatus>,
    pub error_class: Option<String>,
    pub fallback_used: Option<bool>,
    /// Keyset pagination: runs queued strictly before this (`queued_at_ms`,
    /// `run_id`) position, newest first.
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

impl RunFilter {
    /// Builds a filter from query text (the API's and the console's), naming
    /// the parameter that is wrong.
    pub fn parse(
        agent: Option<String>,
        job: Option<String>,
        status: Option<&str>,
        class: Option<String>,
        fallback_used: Option<bool>,
        before: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Self> {
        let empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let status = status
            .filter(|s| !s.is_empty())
            .map(str::parse::<RunStatus>)
            .transpose()
            .map_err(|e| Error::invalid("status", e))?;
        let before = before
            .filter(|s| !s.is_empty())
            .map(|cursor| {
                cursor
                    .split_once('|')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| Error::invalid("before", format!("`{cursor}` is not a page cursor (use `next` from the previous page)")))
            })
            .transpose()?;
        Ok(RunFilter {
            agent_id: empty(agent),
            job_id: empty(job),
            status,
            error_class: empty(class),
            fallback_used,
            before,
            limit: limit.unwrap_or(50).clamp(1, 500),
        })
    }
}

const JOB_STATE_COLUMNS: &str =
    "job_id, next_run_at_ms, running_at_ms, last_run_at_ms, last_status, \
     last_error, last_error_class, last_duration_ms, consecutive_errors";

impl Store {
    /// Creates the state rows of jobs that have none (never overwrites), in
    /// one transaction: a config may bring thousands of new jobs. Each is
    /// (job, next fire, schedule fingerprint).
    pub async fn ensure_job_states(
        &self,
        jobs: &[(String, Option<i64>, String)],
        now_ms: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for (job_id, next, fp) in jobs {
                sqlx::query("INSERT INTO job_state (job_id, next_run_at_ms, schedule_fp, updated_at_ms) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (job_id) DO NOTHING")
                    .bind(job_id).bind(next).bind(fp).bind(now_ms).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn job_states(&self) -> Result<Vec<JobState>> {
        let sql = format!("SELECT {JOB_STATE_COLUMNS} FROM job_state ORDER BY job_id");
        let rows: Vec<JobStateRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// (job, next fire, schedule fingerprint) of every job state: what the
    /// scheduler compares with a new config.
    pub async fn job_schedules(&self) -> Result<Vec<(String, Option<i64>, Option<String>)>> {
        let rows = with_pool!(self, pool => sqlx::query_as(
            "SELECT job_id, next_run_at_ms, schedule_fp FROM job_state")
            .fetch_all(pool).await)?;
        Ok(rows)
    }

    /// When the loop has something to do next: the earliest next fire of
    /// any job (claimed `lookahead` before it), and the earliest queued run
    /// that is not runnable yet (a fire claimed ahead; it becomes runnable
    /// at its `queued_at_ms`).
    pub async fn next_due(&self, now_ms: i64) -> Result<(Option<i64>, Option<i64>)> {
        let row: (Option<i64>, Option<i64>) = with_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT MIN(next_run_at_ms) FROM job_state), \
             (SELECT MIN(queued_at_ms) FROM run WHERE status = 'queued' AND queued_at_ms > $1)")
            .bind(now_ms).fetch_one(pool).await)?;
        Ok(row)
    }

    /// (job, next fire) of the jobs whose next fire is at or before
    /// `until_ms` (now plus the claim lookahead).
    pub async fn due_job_states(&self, until_ms: i64) -> Result<Vec<(String, Option<i64>)>> {
        let rows: Vec<(String, Option<i64>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT job_id, next_run_at_ms FROM job_state WHERE next_run_at_ms <= $1")
            .bind(until_ms).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// Carries an imported job's history over (OpenClaw's `lastStatus`,
    /// `lastError`, `consecutiveErrors`, `lastRunAtMs`), in one
    /// transaction. A job with no state row yet gets one without a next
    /// fire or fingerprint, which the scheduler's reconcile then schedules;
    /// an existing row keeps its schedule.
    pub async fn import_job_history(
        &self,
        states: &[crate::openclaw::JobState],
        now_ms: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for s in states {
                let errors = i64::try_from(s.consecutive_errors).unwrap_or(i64::MAX);
                sqlx::query(
                    "INSERT INTO job_state (job_id, last_run_at_ms, last_status, last_error, consecutive_errors, updated_at_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id) DO UPDATE SET \
                     last_run_at_ms = $2, last_status = $3, last_error = $4, consecutive_errors = $5, updated_at_ms = $6")
                    .bind(&s.job_id).bind(s.last_run_at_ms).bind(&s.last_status).bind(&s.last_error)
                    .bind(errors).bind(now_ms).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn job_state(&self, job_id: &str) -> Result<Option<JobState>> {
        let sql = format!("SELECT {JOB_STATE_COLUMNS} FROM job_state WHERE job_id = $1");
        let row: Option<JobStateRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(job_id).fetch_optional(pool).await)?;
        Ok(row.map(Into::into))
    }

    /// The stored schedule fingerprint of a job (`None`: no state, or NULL).
    pub async fn job_schedule_fp(&self, job_id: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT schedule_fp FROM job_state WHERE job_id = $1")
            .bind(job_id).fetch_optional(pool).await)?;
        Ok(row.and_then(|(fp,)| fp))
    }

    /// (run, job, fire time) of queued scheduled runs for fires after
    /// `after_ms`: fires claimed ahead of their instant (and any still
    /// waiting that came due after `after_ms`).
    pub async fn pending_claims(&self, after_ms: i64) -> Result<Vec<(String, String, i64)>> {
        // A scheduled run is queued at its fire or later, so the bound on
        // `queued_at_ms` is implied; it lets `run_by_status` find the rows.
        let rows = with_pool!(self, pool => sqlx::query_as(
            "SELECT run_id, job_id, scheduled_for_ms FROM run WHERE status = 'queued' AND trigger = 'cron' \
             AND queued_at_ms > $1 AND scheduled_for_ms > $1 ORDER BY scheduled_for_ms")
            .bind(after_ms).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// Applies new next fires computed from a changed config, in one
    /// transaction: for each job, a compare-and-set of its schedule
    /// fingerprint (so of several replicas that see the change, one applies
    /// it), its next fire, and — only for the one that applied it — the
    /// claimed fires that no longer hold closed as `skipped` with the reason.
    /// Returns the ids of the runs it closed.
    pub async fn reschedule(&self, changes: &[Reschedule], now_ms: i64) -> Result<Vec<String>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut skipped = Vec::new();
            for c in changes {
                let moved = sqlx::query(
                    "UPDATE job_state SET schedule_fp = $2, next_run_at_ms = $3, updated_at_ms = $4 \
                     WHERE job_id = $1 AND COALESCE(schedule_fp, '') = $5")
                    .bind(&c.job_id).bind(&c.schedule_fp).bind(c.next_run_at_ms).bind(now_ms)
                    .bind(c.expected_fp.as_deref().unwrap_or(""))
                    .execute(&mut *tx).await?.rows_affected();
                if moved != 1 {
                    continue;
                }
                for (run_id, why) in &c.skip {
                    let n = sqlx::query(
                        "UPDATE run SET status = 'skipped', finished_at_ms = $2, error_class = $3, note = $4 \
                         WHERE run_id = $1 AND status = 'queued'")
                        .bind(run_id).bind(now_ms).bind(JOB_CHANGED).bind(why)
                        .execute(&mut *tx).await?.rows_affected();
                    if n == 1 {
                        skipped.push(run_id.clone());
                    }
                }
            }
            tx.commit().await?;
            Ok(skipped)
        })
    }

    /// Status and class of the run for one fire of a job, if there is one.
    pub async fn fire_outcome(
        &self,
        job_id: &str,
        scheduled_for_ms: i64,
    ) -> Result<Option<(RunStatus, Option<String>)>> {
        let row: Option<(String, Option<String>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT status, error_class FROM run WHERE job_id = $1 AND scheduled_for_ms = $2")
            .bind(job_id).bind(scheduled_for_ms).fetch_optional(pool).await)?;
        row.map(|(status, class)| {
            let status = status.parse().map_err(|message| Error::Corrupt {
                what: format!("run of {job_id} at {scheduled_for_ms}"),
                message,
            })?;
            Ok((status, class))
        })
        .transpose()
    }

    /// Claims fires in one transaction (a tick may claim thousands).
    /// For each: a compare-and-set of the job's stored `next_run_at_ms` from
    /// `expected_next` to `next_run_at_ms` (and of its schedule fingerprint),
    /// then its run for `scheduled_for_ms` — queued, or `skipped` with its
    /// `note`. Exactly one caller across all replicas gets `Some(run_id)`
    /// for a fire: the compare-and-set and `UNIQUE(job_id, scheduled_for_ms)`
    /// both guard it; a fire someone else took is `None` and leaves nothing
    /// behind.
    ///
    /// Each statement carries the whole batch in one parameter — JSON read
    /// with `json_each` on SQLite, arrays read with `unnest` on PostgreSQL —
    /// so its text never changes and is prepared once per connection (a
    /// multi-row `VALUES` list was prepared anew for each batch size, and on
    /// SQLite that cost more than the rows).
    pub async fn fire_many(
        &self,
        fires: &[Fire<'_>],
        now_ms: i64,
        lanes: &mut LaneCounts,
    ) -> Result<Vec<Option<String>>> {
        if fires.is_empty() {
            return Ok(Vec::new());
        }
        let inserted = match &self.backend {
            Backend::Sqlite(pool) => fire_many_sqlite(pool, fires, now_ms, lanes).await?,
            Backend::Postgres(pool) => fire_many_postgres(pool, fires, now_ms, lanes).await?,
        };
        Ok(fires
            .iter()
            .map(|f| {
                let id = run_id_of(f);
                // Not inserted: the fire already had its run (another
                // replica); moving the job on past it is still right.
                inserted.contains(&id).then_some(id)
            })
            .collect())
    }

    /// Records something the operator should see on a run.
    pub async fn note_run(&self, run_id: &str, note: &str) -> Result<()> {
        let note = clip(note, MAX_DETAIL_BYTES);
        with_pool!(self, pool => sqlx::query("UPDATE run SET note = $2 WHERE run_id = $1")
            .bind(run_id).bind(note.as_ref()).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Queues `manual:<jobId>:<n>` at once.
    pub async fn enqueue_manual(&self, run: &NewRun<'_>) -> Result<String> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO job_state (job_id, updated_at_ms) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING")
                .bind(run.job_id).bind(run.queued_at_ms).execute(&mut *tx).await?;
            let (n,): (i64,) = sqlx::query_as(
                "UPDATE job_state SET manual_runs = manual_runs + 1, updated_at_ms = $2 WHERE job_id = $1 RETURNING manual_runs")
                .bind(run.job_id).bind(run.queued_at_ms).fetch_one(&mut *tx).await?;
            let run_id = format!("manual:{}:{n}", run.job_id);
            let (ahead,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM run WHERE lane = $1 AND status IN ('queued', 'running')")
                .bind(run.lane).fetch_one(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO run (run_id, job_id, agent_id, trigger, status, queued_at_ms, deadline_ms, lane, queue_ahead) \
                 VALUES ($1, $2, $3, 'manual', 'queued', $4, $5, $6, $7)")
                .bind(&run_id).bind(run.job_id).bind(run.agent_id).bind(run.queued_at_ms)
                .bind(run.deadline_ms).bind(run.lane).bind(ahead)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(run_id)
        })
    }

    /// Queued runs that are runnable at `now_ms`, oldest first, whose lane
    /// has no running run. A fire claimed ahead is queued for its instant
    /// (`queued_at_ms`) and is not runnable before it.
    pub async fn startable_runs(&self, limit: i64, now_ms: i64) -> Result<Vec<RunRecord>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM run q WHERE status = 'queued' AND queued_at_ms <= $2 AND NOT EXISTS \
             (SELECT 1 FROM run r WHERE r.lane = q.lane AND r.status = 'running') \
             ORDER BY queued_at_ms, run_id LIMIT $1"
        );
        let rows: Vec<RunRow> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(limit).bind(now_ms).fetch_all(pool).await)?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The cron lane's slots held by running runs now.
    pub async fn used_cron_slots(&self) -> Result<HashSet<i64>> {
        let rows: Vec<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT cron_slot FROM run WHERE status = 'running' AND cron_slot IS NOT NULL")
            .fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Starts a queued run for `owner`, taking its lane (and a cron slot
    /// when `cron_slot` is given). `false` when another claim won the run,
    /// its lane or that slot: the database's unique indexes decide.
    pub async fn start_run(
        &self,
        run_id: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        cron_slot: Option<i64>,
    ) -> Result<bool> {
        // An async block, so `?` stops at the match below: a unique
        // violation there means "someone else has the lane or the slot".
        let result: std::result::Result<bool, sqlx::Error> = with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let started = sqlx::query(
                "UPDATE run SET status = 'running', owner = $2, started_at_ms = $3, lease_until_ms = $4, \
                 lane_wait_ms = $3 - queued_at_ms, cron_slot = $5 WHERE run_id = $1 AND status = 'queued'")
                .bind(run_id).bind(owner).bind(now_ms).bind(lease_until_ms).bind(cron_slot)
                .execute(&mut *tx).await?.rows_affected();
            if started != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(
                "UPDATE job_state SET running_at_ms = $2, updated_at_ms = $2 \
                 WHERE job_id = (SELECT job_id FROM run WHERE run_id = $1)")
                .bind(run_id).bind(now_ms).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        }.await);
        match result {
            Ok(started) => Ok(started),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Extends the lease of `owner`'s running runs among `run_ids` (the runs
    /// its process is still executing: a run whose task ended without
    /// finishing it is left to expire and be reaped, never kept alive);
    /// answers the ids of all its running runs whose cancellation was
    /// requested (possibly through another replica).
    pub async fn heartbeat(
        &self,
        owner: &str,
        run_ids: &[String],
        lease_until_ms: i64,
    ) -> Result<Vec<String>> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query(
                    "UPDATE run SET lease_until_ms = $2 WHERE owner = $1 AND status = 'running' \
                     AND run_id IN (SELECT value FROM json_each($3))",
                )
                .bind(owner)
                .bind(lease_until_ms)
                .bind(serde_json::json!(run_ids).to_string())
                .execute(pool)
                .await?;
            }
            Backend::Postgres(pool) => {
                sqlx::query(
                    "UPDATE run SET lease_until_ms = $2 WHERE owner = $1 AND status = 'running' \
                     AND run_id = ANY($3)",
                )
                .bind(owner)
                .bind(lease_until_ms)
                .bind(run_ids)
                .execute(pool)
                .await?;
            }
        }
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT run_id FROM run WHERE owner = $1 AND status = 'running' AND cancel_requested = 1")
            .bind(owner).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Closes a running run and updates its job's state, in one transaction.
    /// `false` if the run was not running (already reaped or finished).
    /// The error text is cut at [`MAX_DETAIL_BYTES`].
    pub async fn finish_run(&self, run_id: &str, end: &RunEnd<'_>, now_ms: i64) -> Result<bool> {
        let streak = streak_step(end.status);
        let error = end.error.map(|e| clip(e, MAX_DETAIL_BYTES));
        let error = error.as_deref();
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let closed = sqlx::query(
                "UPDATE run SET status = $2, finished_at_ms = $3, duration_ms = $3 - COALESCE(started_at_ms, queued_at_ms), \
                 error = $4, error_class = $5, model = $6, harness = $7, fallback_used = $8, \
                 input_tokens = $9, output_tokens = $10, attempts = $11, cron_slot = NULL, lease_until_ms = NULL \
                 WHERE run_id = $1 AND status = 'running'")
                .bind(run_id).bind(end.status.as_str()).bind(now_ms).bind(error).bind(end.error_class)
                .bind(end.model).bind(end.harness).bind(i64::from(end.fallback_used))
                .bind(end.input_tokens).bind(end.output_tokens).bind(end.attempts)
                .execute(&mut *tx).await?.rows_affected();
            if closed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            close_job_state!(tx, run_id, end.status.as_str(), error, end.error_class, streak, now_ms)?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Cancels a run: a queued one at once; a running one is flagged and its
    /// owner (on any replica) stops it at its next heartbeat or sooner.
    pub async fn request_cancel(&self, run_id: &str, now_ms: i64) -> Result<RunStatus> {
        let run = self.run(run_id).await?;
        match run.status {
            RunStatus::Queued => {
                let n = with_pool!(self, pool => sqlx::query(
                    "UPDATE run SET status = 'cancelled', finished_at_ms = $2, error = 'cancelled before it started', \
                     error_class = 'cancelled' WHERE run_id = $1 AND status = 'queued'")
                    .bind(run_id).bind(now_ms).execute(pool).await.map(|r| r.rows_affected()))?;
                if n == 1 {
                    Ok(RunStatus::Cancelled)
                } else {
                    Box::pin(self.request_cancel(run_id, now_ms)).await
                }
            }
            RunStatus::Running => {
                with_pool!(self, pool => sqlx::query("UPDATE run SET cancel_requested = 1 WHERE run_id = $1")
                    .bind(run_id).execute(pool).await.map(drop))?;
                Ok(RunStatus::Running)
            }
            done => Err(Error::invalid(
                "runId",
                format!("run {run_id} already ended ({done})"),
            )),
        }
    }

    /// Closes every running run whose lease ended before `now_ms`, or whose
    /// owner is in `dead_owners`, as `error` / `abandoned`, repairing its
    /// job's state in the same transaction. Returns the reaped runs' ids.
    pub async fn reap(&self, now_ms: i64, dead_owners: &[String]) -> Result<Vec<String>> {
        let rows: Vec<(String, Option<String>, Option<i64>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT run_id, owner, lease_until_ms FROM run WHERE status = 'running'")
            .fetch_all(pool).await)?;
        let mut reaped = Vec::new();
        for (run_id, owner, lease) in rows {
            let owner_dead = owner.as_ref().is_some_and(|o| dead_owners.contains(o));
            let expired = lease.is_none_or(|l| l < now_ms);
            if !(owner_dead || expired) {
                continue;
            }
            let why = if owner_dead {
                format!(
                    "abandoned: its server process ({}) is gone",
                    owner.as_deref().unwrap_or("?")
                )
            } else {
                format!(
                    "abandoned: its owner ({}) stopped renewing the lease",
                    owner.as_deref().unwrap_or("?")
                )
            };
            let closed = with_pool!(self, pool => {
                let mut tx = pool.begin().await?;
                let n = sqlx::query(
                    "UPDATE run SET status = 'error', finished_at_ms = $2, \
                     duration_ms = $2 - COALESCE(started_at_ms, queued_at_ms), error = $3, error_class = 'abandoned', \
                     cron_slot = NULL, lease_until_ms = NULL WHERE run_id = $1 AND status = 'running'")
                    .bind(&run_id).bind(now_ms).bind(&why).execute(&mut *tx).await?.rows_affected();
                if n == 1 {
                    close_job_state!(tx, &run_id, "error", Some(why.as_str()), Some("abandoned"), streak_step(RunStatus::Error), now_ms)?;
                }
                tx.commit().await?;
                Ok::<bool, sqlx::Error>(n == 1)
            })?;
            if closed {
                reaped.push(run_id);
            }
        }
        Ok(reaped)
    }

    /// Appends log lines (written in batches by the server's log layer),
    /// each cut at [`MAX_LOG_LINE_BYTES`].
    pub async fn append_run_logs(&self, lines: &[crate::runs::RunLogLine]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for l in lines {
                sqlx::query("INSERT INTO run_log (run_id, at_ms, level, line) VALUES ($1, $2, $3, $4)")
                    .bind(&l.run_id).bind(l.at_ms).bind(&l.level).bind(clip(&l.line, MAX_LOG_LINE_BYTES).as_ref())
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn run_logs(&self, run_id: &str) -> Result<Vec<crate::runs::RunLogLine>> {
        let rows: Vec<(String, i64, String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT run_id, at_ms, level, line FROM run_log WHERE run_id = $1 ORDER BY log_id LIMIT 2000")
            .bind(run_id).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(run_id, at_ms, level, line)| crate::runs::RunLogLine {
                run_id,
                at_ms,
                level,
                line,
            })
            .collect())
    }

    /// Queued or running runs per job.
    pub async fn busy_by_job(&self) -> Result<std::collections::HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT job_id, COUNT(*) FROM run WHERE status IN ('queued', 'running') GROUP BY job_id")
            .fetch_all(pool).await)?;
        Ok(rows.into_iter().collect())
    }

    /// Owners of running runs (to check which are alive).
    pub async fn running_owners(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT DISTINCT owner FROM run WHERE status = 'running' AND owner IS NOT NULL")
            .fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|(o,)| o).collect())
    }

    pub async fn run(&self, run_id: &str) -> Result<RunRecord> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM run WHERE run_id = $1");
        let row: Option<RunRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(run_id).fetch_optional(pool).await)?;
        row.ok_or_else(|| Error::NotFound {
            what: "run",
            id: run_id.to_owned(),
        })?
        .try_into()
    }

    /// A page of runs and the cursor of the next one.
    pub async fn run_page(&self, f: &RunFilter) -> Result<crate::runs::RunPage> {
        let runs = self.runs(f).await?;
        let next = (runs.len() as i64 == f.limit)
            .then(|| {
                runs.last()
                    .map(|r| format!("{}|{}", r.queued_at_ms, r.run_id))
            })
            .flatten();
        Ok(crate::runs::RunPage { runs, next })
    }

    /// Newest first, filtered, keyset-paginated (fast at any depth).
    pub async fn runs(&self, f: &RunFilter) -> Result<Vec<RunRecord>> {
        // Only the filters that are set go into the statement: an
        // `($n IS NULL OR col = $n)` form hides the indexes from the planner
        // (measured: a job filter scanned 1M runs on SQLite).
        enum Arg {
            Text(String),
            Int(i64),
        }
        let mut conditions = Vec::new();
        let mut args = Vec::new();
        let mut add = |condition: &str, arg: Arg| {
            args.push(arg);
            conditions.push(condition.replace('?', &format!("${}", args.len())));
        };
        if let Some(v) = &f.agent_id {
            add("agent_id = ?", Arg::Text(v.clone()));
        }
        if let Some(v) = &f.job_id {
            add("job_id = ?", Arg::Text(v.clone()));
        }
        if let Some(v) = f.status {
            add("status = ?", Arg::Text(v.as_str().to_owned()));
        }
        if let Some(v) = &f.error_class {
            add("error_class = ?", Arg::Text(v.clone()));
        }
        if let Some(v) = f.fallback_used {
            add("fallback_used = ?", Arg::Int(i64::from(v)));
        }
        if let Some((at, id)) = &f.before {
            // The plain bound lets the index on queued_at_ms start at the
            // cursor instead of scanning every newer run.
            add("queued_at_ms <= ?", Arg::Int(*at));
            add("(queued_at_ms < ? OR run_id < ", Arg::Int(*at));
            let last = conditions.pop().expect("just added");
            args.push(Arg::Text(id.clone()));
            conditions.push(format!("{last}${})", args.len()));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        args.push(Arg::Int(f.limit.clamp(1, 500)));
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM run {filter} ORDER BY queued_at_ms DESC, run_id DESC LIMIT ${}",
            args.len()
        );
        let rows: Vec<RunRow> = with_pool!(self, pool => {
            let mut query = sqlx::query_as(&sql);
            for arg in &args {
                query = match arg {
                    Arg::Text(v) => query.bind(v.clone()),
                    Arg::Int(v) => query.bind(*v),
                };
            }
            query.fetch_all(pool).await
        })?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

fn run_id_of(f: &Fire<'_>) -> String {
    format!("cron:{}:{}", f.run.job_id, f.scheduled_for_ms)
}

/// Each claimed fire's queue position at enqueue time: its lane's queued
/// and running runs, then counted on in claim order. A skipped fire waits
/// for nothing and holds no place.
fn queue_positions(claimed: &[&Fire<'_>], lanes: &mut LaneCounts) -> Vec<i64> {
    claimed
        .iter()
        .map(|f| {
            let position = lanes.0.entry(f.run.lane.to_owned()).or_insert(0);
            let mine = *position;
            if !f.skip {
                *position += 1;
            }
            mine
        })
        .collect()
}

/// The lanes of `claimed` not counted yet this tick.
fn uncounted_lanes<'a>(claimed: &[&'a Fire<'_>], lanes: &LaneCounts) -> Vec<&'a str> {
    let mut out: Vec<&str> = claimed
        .iter()
        .map(|f| f.run.lane)
        .filter(|l| !lanes.0.contains_key(*l))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn status_of(f: &Fire<'_>) -> &'static str {
    if f.skip {
        RunStatus::Skipped.as_str()
    } else {
        RunStatus::Queued.as_str()
    }
}

/// [`Store::fire_many`] on SQLite: the batch travels as one JSON text.
async fn fire_many_sqlite(
    pool: &sqlx::SqlitePool,
    fires: &[Fire<'_>],
    now_ms: i64,
    lanes: &mut LaneCounts,
) -> std::result::Result<HashSet<String>, sqlx::Error> {
    use serde_json::json;
    let mut tx = pool.begin().await?;
    let cas: Vec<serde_json::Value> = fires
        .iter()
        .map(|f| {
            json!([
                f.run.job_id,
                f.expected_next,
                f.next_run_at_ms,
                f.schedule_fp
            ])
        })
        .collect();
    // `v` drives: each job is found by its primary key.
    let moved: HashSet<String> = sqlx::query_as::<_, (String,)>(
        "WITH v AS (SELECT json_extract(value, '$[0]') AS job_id, json_extract(value, '$[1]') AS expected, \
         json_extract(value, '$[2]') AS next, json_extract(value, '$[3]') AS fp FROM json_each($1)) \
         UPDATE job_state SET next_run_at_ms = v.next, updated_at_ms = $2 FROM v \
         WHERE job_state.job_id = v.job_id AND job_state.next_run_at_ms = v.expected \
         AND COALESCE(job_state.schedule_fp, '') = v.fp RETURNING job_state.job_id",
    )
    .bind(serde_json::Value::Array(cas).to_string())
    .bind(now_ms)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(id,)| id)
    .collect();
    let claimed: Vec<&Fire<'_>> = fires
        .iter()
        .filter(|f| moved.contains(f.run.job_id))
        .collect();
    if claimed.is_empty() {
        tx.rollback().await?;
        return Ok(HashSet::new());
    }
    let uncounted = uncounted_lanes(&claimed, lanes);
    if !uncounted.is_empty() {
        let counted: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
            "SELECT lane, COUNT(*) FROM run WHERE status IN ('queued', 'running') \
             AND lane IN (SELECT value FROM json_each($1)) GROUP BY lane",
        )
        .bind(json!(uncounted).to_string())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        for lane in uncounted {
            lanes
                .0
                .insert(lane.to_owned(), counted.get(lane).copied().unwrap_or(0));
        }
    }
    let positions = queue_positions(&claimed, lanes);
    let rows: Vec<serde_json::Value> = claimed
        .iter()
        .zip(&positions)
        .map(|(f, position)| {
            json!([
                run_id_of(f),
                f.run.job_id,
                f.run.agent_id,
                f.scheduled_for_ms,
                status_of(f),
                f.run.queued_at_ms,
                f.run.deadline_ms,
                f.run.lane,
                position,
                f.note
            ])
        })
        .collect();
    // `WHERE true`: without it SQLite reads `ON CONFLICT` as a join clause.
    let inserted: HashSet<String> = sqlx::query_as::<_, (String,)>(
        "INSERT INTO run (run_id, job_id, agent_id, trigger, scheduled_for_ms, status, queued_at_ms, \
         finished_at_ms, deadline_ms, lane, queue_ahead, note) \
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), 'cron', \
         json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'), \
         CASE WHEN json_extract(value, '$[4]') = 'skipped' THEN json_extract(value, '$[5]') END, \
         json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'), \
         json_extract(value, '$[9]') FROM json_each($1) WHERE true ON CONFLICT DO NOTHING RETURNING run_id",
    )
    .bind(serde_json::Value::Array(rows).to_string())
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(id,)| id)
    .collect();
    tx.commit().await?;
    Ok(inserted)
}

/// [`Store::fire_many`] on PostgreSQL: the batch travels as one array per
/// column, read with `unnest`.
async fn fire_many_postgres(
    pool: &sqlx::PgPool,
    fires: &[Fire<'_>],
    now_ms: i64,
    lanes: &mut LaneCounts,
) -> std::result::Result<HashSet<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let moved: HashSet<String> = sqlx::query_as::<_, (String,)>(
        "UPDATE job_state SET next_run_at_ms = v.next, updated_at_ms = $5 \
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[]) AS v(job_id, expected, next, fp) \
         WHERE job_state.job_id = v.job_id AND job_state.next_run_at_ms = v.expected \
         AND COALESCE(job_state.schedule_fp, '') = v.fp RETURNING job_state.job_id",
    )
    .bind(fires.iter().map(|f| f.run.job_id).collect::<Vec<_>>())
    .bind(fires.iter().map(|f| f.expected_next).collect::<Vec<_>>())
    .bind(fires.iter().map(|f| f.next_run_at_ms).collect::<Vec<_>>())
    .bind(fires.iter().map(|f| f.schedule_fp).collect::<Vec<_>>())
    .bind(now_ms)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(id,)| id)
    .collect();
    let claimed: Vec<&Fire<'_>> = fires
        .iter()
        .filter(|f| moved.contains(f.run.job_id))
        .collect();
    if claimed.is_empty() {
        tx.rollback().await?;
        return Ok(HashSet::new());
    }
    let uncounted = uncounted_lanes(&claimed, lanes);
    if !uncounted.is_empty() {
        let counted: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
            "SELECT lane, COUNT(*) FROM run WHERE status IN ('queued', 'running') AND lane = ANY($1) GROUP BY lane",
        )
        .bind(&uncounted)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        for lane in uncounted {
            lanes
                .0
                .insert(lane.to_owned(), counted.get(lane).copied().unwrap_or(0));
        }
    }
    let positions = queue_positions(&claimed, lanes);
    let inserted: HashSet<String> = sqlx::query_as::<_, (String,)>(
        "INSERT INTO run (run_id, job_id, agent_id, trigger, scheduled_for_ms, status, queued_at_ms, \
         finished_at_ms, deadline_ms, lane, queue_ahead, note) \
         SELECT r.run_id, r.job_id, r.agent_id, 'cron', r.sched, r.status, r.queued, \
         CASE WHEN r.status = 'skipped' THEN r.queued END, r.deadline, r.lane, r.ahead, r.note \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], \
         $7::bigint[], $8::text[], $9::bigint[], $10::text[]) \
         AS r(run_id, job_id, agent_id, sched, status, queued, deadline, lane, ahead, note) \
         ON CONFLICT DO NOTHING RETURNING run_id",
    )
    .bind(claimed.iter().map(|f| run_id_of(f)).collect::<Vec<_>>())
    .bind(claimed.iter().map(|f| f.run.job_id).collect::<Vec<_>>())
    .bind(claimed.iter().map(|f| f.run.agent_id).collect::<Vec<_>>())
    .bind(claimed.iter().map(|f| f.scheduled_for_ms).collect::<Vec<_>>())
    .bind(claimed.iter().map(|f| status_of(f)).collect::<Vec<_>>())
    .bind(claimed.iter().map(|f| f.run.queued_at_ms).collect::<Vec<_>>())
    .bind(claimed.iter().map(|f| f.run.deadline_ms).collect::<Vec<_>>())
    .bind(claimed.iter().map(|f| f.run.lane).collect::<Vec<_>>())
    .bind(positions)
    .bind(claimed.iter().map(|f| f.note.clone()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(id,)| id)
    .collect();
    tx.commit().await?;
    Ok(inserted)
}
