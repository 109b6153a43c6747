//! `cargo bench -p engine --bench scheduler`: how late 10,000 fires due in
//! the same millisecond become runnable, what claiming them costs, when the
//! dispatcher starts the first runs, and how fast the Runs page answers over
//! 1,000,000 stored runs.
//!
//! Part 1 runs the production loop ([`Scheduler::spawn`]) against a SQLite
//! file and a PostgreSQL schema (when reachable) with a clock that runs in
//! real time but starts wherever the bench puts it: 1.5 s before the claim
//! (T − lookahead) instead of at the next real minute. Twice per backend: with
//! the default lookahead (fires claimed ahead, runs queued for T) and with
//! lookahead 0 (each fire claimed at T, the path before claiming ahead).
//!
//! A fire's lateness is how long after T its run became claimable by the
//! dispatcher: durably committed and runnable. A claim's commit time is when
//! its `RunEvent::Queued` arrives (sent right after the transaction commits);
//! a run claimed ahead is runnable from T, so its lateness is
//! `max(0, commit − T)`. The dispatcher's side is measured too: T → the
//! `RunEvent::Running` of the first runs (the cron lane's 4 slots), and the
//! store is checked for runs started before T (none may be). After T the
//! loop dispatches for `DRAIN_WINDOW`; then the bench cancels it and, if it
//! does not stop, cancels the queued backlog with one UPDATE of its own so
//! it need not wait for 10,000 runs.
//!
//! Part 2 (`-- runs-page`; part 1 is `-- fires`) bulk-loads 1,000,000 runs (50 agents, 10,000 jobs, 30 days) with
//! one `INSERT … SELECT` per 100,000 rows on a second connection, then times
//! `Store::run_page` as the Runs page calls it. Prints a markdown table; no
//! timing assertions, but results are checked (all fires queued once, every
//! page full and matching its filter).

use engine::clock::{Clock, SharedClock};
use engine::fleet::Fleet;
use engine::router::Router;
use engine::runs::RunStatus;
use engine::scheduler::{RunEvent, Scheduler, Settings, DEFAULT_FIRE_LOOKAHEAD_MS};
use engine::sim::provider::SimProvider;
use engine::store::{RunFilter, Store};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

mod common;
use common::{ms, postgres_url, stats, SchemaGuard, Stats, Table};

const TABLE: Table = Table { width: 64 };

const JOBS: usize = 10_000;
const AGENTS: usize = 50;
const EVERY_MS: i64 = 60_000;
/// Real time from starting the loop to the claim (T − lookahead).
const LEAD_MS: i64 = 1_500;
/// The cron lane's slots (the server's default).
const CRON_SLOTS: i64 = 4;
/// How long the loop keeps dispatching from T (or the last claim, if later).
const DRAIN_WINDOW: Duration = Duration::from_secs(5);
/// How long the loop gets to honour its stop token.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Idle ticks timed (nothing due).
const IDLE_TICKS: usize = 20;

const RUNS: i64 = 1_000_000;
const INSERT_CHUNK: i64 = 100_000;
/// Milliseconds between two stored runs: 1,000,000 runs over 30 days.
const RUN_SPACING_MS: i64 = 30 * 86_400_000 / RUNS;
const QUERIES: usize = 200;
const QUERY_WARMUP: usize = 2;
/// A filter slower than this per row stops early (at least `QUERY_MIN`).
const QUERY_BUDGET: Duration = Duration::from_secs(4);
const QUERY_MIN: usize = 5;
const PAGE: i64 = 50;
const DEEP_ROWS: i64 = 900_000;
const ERROR_CLASSES: &[&str] = &[
    "rate_limit",
    "auth",
    "server_error",
    "context_overflow",
    "abandoned",
    "limit_turns",
];

fn real_us() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// Real time, shifted: runs at wall-clock speed from wherever it was set.
#[derive(Default)]
struct ShiftedClock {
    offset_us: AtomicI64,
}

impl ShiftedClock {
    fn now_us(&self) -> i64 {
        real_us() + self.offset_us.load(Ordering::SeqCst)
    }

    fn set_ms(&self, ms: i64) {
        self.offset_us
            .store(ms * 1_000 - real_us(), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        self.now_us().div_euclid(1_000)
    }
}

/// User + system CPU time of this whole process (the tick, sqlx, and the
/// SQLite engine; not the PostgreSQL server).
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given and reports failure.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage");
    // SAFETY: initialised by the successful call above (and zeroed before).
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// User + system CPU time of every PostgreSQL server process on this
/// machine (the database's side of a claim; anything else using the server
/// at the same time is counted too).
fn postgres_cpu() -> Duration {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state …`: comm may hold spaces, so split after it.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        if !head.contains("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line.
        let field = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
        total += field(14).unwrap_or(0) + field(15).unwrap_or(0);
    }
    Duration::from_micros(total * 1_000_000 / ticks)
}

fn once(d: Duration) -> Stats {
    stats(vec![d])
}

fn us(v: i64) -> Duration {
    Duration::from_micros(u64::try_from(v).unwrap_or(0))
}

/// `10000` as `10,000`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn unique_schema(what: &str) -> String {
    format!(
        "bench_sched_{what}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
        }
    }
}

/// A fresh store: a new file in `dir`, or a new PostgreSQL schema.
async fn open(
    db: Db,
    dir: &std::path::Path,
    what: &str,
    guards: &mut Vec<SchemaGuard>,
) -> Option<(Store, Target)> {
    match db {
        Db::Sqlite => {
            let path = dir.join(format!("{what}.db"));
            let store = Store::open_sqlite(&path).await.expect("sqlite store");
            Some((store, Target::Sqlite(path)))
        }
        Db::Postgres => {
            let schema = unique_schema(what);
            match Store::connect_postgres(&postgres_url(), Some(&schema)).await {
                Ok(store) => {
                    guards.push(SchemaGuard(schema.clone()));
                    Some((store, Target::Postgres(schema)))
                }
                Err(e) => {
                    eprintln!("PostgreSQL unreachable, its rows are skipped: {e}");
                    None
                }
            }
        }
    }
}

/// Where a store lives, for the bench's own second connection.
enum Target {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

// ---------------------------------------------------------------------------
// Part 1: 10,000 jobs firing in the same minute.

fn fleet_config(anchor_ms: i64) -> Value {
    let agents: serde_json::Map<String, Value> = (0..AGENTS)
        .map(|a| (format!("agent-{a:02}"), json!({})))
        .collect();
    let jobs: Vec<Value> = (0..JOBS)
        .map(|j| {
            json!({
                "id": format!("job-{j:05}"),
                "agentId": format!("agent-{:02}", j % AGENTS),
                "message": "status?",
                "schedule": {"kind": "every", "everyMs": EVERY_MS, "anchorMs": anchor_ms}
            })
        })
        .collect();
    json!({
        "providers": {"sim": {"kind": "sim", "models": ["m"], "scripts": {"m": "ok"}}},
        "agents": {
            "defaults": {"model": {"primary": "sim/m"}, "embeddedHarness": {"runtime": "pi"}},
            "entries": agents
        },
        "cron": {"jobs": jobs}
    })
}

/// What the bench saw on the scheduler's event channel, stamped with the
/// scheduler's clock in microseconds.
#[derive(Default)]
struct Observed {
    queued: Vec<(String, i64)>,
    started: HashMap<String, i64>,
    finished: Vec<(String, i64)>,
    lagged: u64,
}

/// How a storm claims its fires.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `fire_lookahead_ms: 0`: each fire claimed at its instant (the path
    /// before claiming ahead; shows what the claim itself costs).
    AtInstant,
    /// The default lookahead: fires claimed ahead, runs queued for T.
    Ahead,
}

impl Mode {
    fn lookahead_ms(self) -> i64 {
        match self {
            Mode::AtInstant => 0,
            Mode::Ahead => DEFAULT_FIRE_LOOKAHEAD_MS,
        }
    }

    fn label(self) -> String {
        match self {
            Mode::AtInstant => "claimed at T (lookahead 0)".to_owned(),
            Mode::Ahead => format!(
                "claimed ahead (lookahead {} s)",
                DEFAULT_FIRE_LOOKAHEAD_MS / 1_000
            ),
        }
    }
}

async fn fire_storm(
    db: Db,
    mode: Mode,
    store: Store,
    target: &Target,
    sim: &Arc<SimProvider>,
    dir: &std::path::Path,
) {
    let name = db.name();
    let jobs = grouped(JOBS);
    let lookahead_ms = mode.lookahead_ms();
    let lead_ms = lookahead_ms + LEAD_MS;
    let clock = Arc::new(ShiftedClock::default());
    let shared: SharedClock = clock.clone();
    // A whole minute a day ahead: the set-up runs well before it.
    let t_ms = (clock.now_ms() / EVERY_MS + 1_440) * EVERY_MS;
    let fleet = Fleet::new(store.clone(), shared.clone());
    let t = Instant::now();
    assert!(fleet
        .seed_if_empty(&fleet_config(t_ms), "bench")
        .await
        .expect("seed"));
    eprintln!("{name}: seeded {JOBS} jobs in {:.0} ms", ms(t.elapsed()));
    let router = Arc::new(
        Router::new(
            store.clone(),
            shared.clone(),
            Arc::new(HashMap::<String, String>::new()),
        )
        .with_sim(sim.clone()),
    );
    let settings = Settings {
        cron_slots: CRON_SLOTS,
        fire_lookahead_ms: lookahead_ms,
        workspaces: dir.join(format!("workspaces-{name}")),
        ..Settings::default()
    };
    let scheduler = Scheduler::new(fleet, router, shared, settings);

    // The first tick sees 10,000 new jobs and creates their state rows.
    let t = Instant::now();
    let fired = scheduler.tick().await.expect("first tick");
    let first_tick = t.elapsed();
    assert!(fired.is_empty(), "the first tick only schedules");
    let states = store.job_states().await.expect("job states");
    assert_eq!(states.len(), JOBS);
    assert!(states.iter().all(|s| s.next_run_at_ms == Some(t_ms)));
    if mode == Mode::Ahead {
        TABLE.row(
            &format!("{name}: first tick, {jobs} new jobs (creates job_state rows)"),
            &once(first_tick),
            "once per new job; their state rows in one transaction",
        );
        // What the loop pays every turn while nothing is due.
        let mut idle = Vec::with_capacity(IDLE_TICKS);
        for _ in 0..IDLE_TICKS {
            let t = Instant::now();
            let fired = scheduler.tick().await.expect("idle tick");
            idle.push(t.elapsed());
            assert!(fired.is_empty());
        }
        let t = Instant::now();
        for _ in 0..IDLE_TICKS {
            std::hint::black_box(store.job_states().await.expect("job states"));
        }
        let states_read = t.elapsed() / IDLE_TICKS as u32;
        TABLE.row(
            &format!("{name}: tick with nothing due, {jobs} jobs"),
            &stats(idle),
            &format!(
                "head hash + job states due within the lookahead (reading all {jobs} job_state rows would cost {:.1} ms)",
                ms(states_read)
            ),
        );
    }

    // The fire: the production loop, started `lead_ms` before T, so its
    // own pause brings it to the claim (T − lookahead) and then to T.
    let mut events = scheduler.subscribe();
    let (all_tx, all_rx) = tokio::sync::oneshot::channel::<()>();
    let observer_stop = CancellationToken::new();
    let observer = {
        let clock = clock.clone();
        let stop = observer_stop.clone();
        tokio::spawn(async move {
            let mut seen = Observed::default();
            let mut all_tx = Some(all_tx);
            loop {
                let event = tokio::select! {
                    () = stop.cancelled() => break,
                    e = events.recv() => e,
                };
                let at = clock.now_us();
                match event {
                    Ok(RunEvent { run_id, status }) => match status {
                        RunStatus::Queued => seen.queued.push((run_id, at)),
                        RunStatus::Running => {
                            seen.started.insert(run_id, at);
                        }
                        s if s.is_final() => seen.finished.push((run_id, at)),
                        _ => {}
                    },
                    Err(RecvError::Lagged(n)) => seen.lagged += n,
                    Err(RecvError::Closed) => break,
                }
                if seen.queued.len() + seen.lagged as usize >= JOBS {
                    if let Some(tx) = all_tx.take() {
                        let _ = tx.send(());
                    }
                }
            }
            seen
        })
    };
    clock.set_ms(t_ms - lead_ms);
    let stop = CancellationToken::new();
    let mut looping = scheduler.spawn(stop.clone());
    // Just before the claim: T − lookahead (= T when claiming at T).
    tokio::time::sleep(Duration::from_millis((LEAD_MS - 20) as u64)).await;
    let cpu_before = cpu_time();
    let pg_before = postgres_cpu();
    let claim_from_us = (t_ms - lookahead_ms) * 1_000;
    let before_claim_us = claim_from_us - clock.now_us();
    tokio::time::timeout(Duration::from_secs(300), all_rx)
        .await
        .expect("10,000 fires queued within 5 minutes")
        .expect("observer");
    let cpu = cpu_time() - cpu_before;
    let pg_cpu = postgres_cpu().saturating_sub(pg_before);
    // The drain window starts when runs may start: at T, or now if later.
    let until_t_us = t_ms * 1_000 - clock.now_us();
    if until_t_us > 0 {
        tokio::time::sleep(us(until_t_us)).await;
    }
    let drain_from = Instant::now();
    tokio::time::sleep(DRAIN_WINDOW).await;
    // Stop the loop. While runs keep finishing, `dispatch` keeps finding
    // startable ones and the loop never gets back to its `select!`; the
    // backlog is then cancelled behind its back (one UPDATE on the bench's
    // own connection) so the bench does not wait for all 10,000 to run.
    let stop_at = Instant::now();
    let stop_at_us = clock.now_us();
    stop.cancel();
    let mut cleared = None;
    let mut cleared_at = stop_at;
    match tokio::time::timeout(STOP_GRACE, &mut looping).await {
        Ok(joined) => joined.expect("scheduler loop"),
        Err(_) => {
            let now = clock.now_ms();
            cleared = Some(
                side_exec(
                    target,
                    &[format!(
                        "UPDATE run SET status = 'cancelled', finished_at_ms = {now}, \
                         error = 'bench: backlog cleared', error_class = 'cancelled' \
                         WHERE status = 'queued'"
                    )],
                )
                .await[0],
            );
            cleared_at = Instant::now();
            looping.await.expect("scheduler loop");
        }
    }
    let stop_latency = stop_at.elapsed();
    let after_clear = cleared_at.elapsed();
    observer_stop.cancel();
    let seen = observer.await.expect("observer");
    let drain_window = stop_at - drain_from;
    // Let runs still executing finish before the store is read.
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert!(
        before_claim_us > 0,
        "the bench started measuring after the claim could start ({before_claim_us} µs)"
    );
    // Commit time of each fire's claim relative to T (negative: before T),
    // as its `RunEvent::Queued` arrived (sent right after the commit).
    let mut committed: Vec<(i64, i64)> = seen
        .queued
        .iter()
        .map(|(run_id, at)| {
            let sched: i64 = run_id
                .rsplit(':')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("cron run id ends in its fire time");
            assert_eq!(sched, t_ms, "{run_id}");
            (*at, at - sched * 1_000)
        })
        .collect();
    committed.sort();
    let earliest = committed[0].1;
    let latest = committed[committed.len() - 1].1;
    // Lateness: when the fire became claimable (committed and visible to
    // the dispatcher as runnable) after T; a claim committed before T is
    // runnable exactly at T.
    let lateness = stats(committed.iter().map(|(_, d)| us((*d).max(0))).collect());
    let verdict = if lateness.p99 < Duration::from_millis(100) {
        "met"
    } else {
        "MISSED"
    };
    let lagged = if seen.lagged > 0 {
        format!("; {} events lost (lagged receiver)", seen.lagged)
    } else {
        String::new()
    };
    let signed = |v: i64| {
        format!(
            "T{}{:.0} ms",
            if v < 0 { "−" } else { "+" },
            v.abs() as f64 / 1e3
        )
    };
    TABLE.row(
        &format!("{name}: fire lateness, {}", mode.label()),
        &lateness,
        &format!(
            "T → run claimable (committed, runnable from T); claims committed {} … {}; target p99 < 100 ms: {verdict}{lagged}",
            signed(earliest),
            signed(latest),
        ),
    );
    let claim_span = us(latest + lookahead_ms * 1_000);
    let k = (JOBS / 10).min(committed.len() - 1);
    let first_k = us(committed[k].0 - claim_from_us);
    let last_k = us(committed[committed.len() - 1].0 - committed[committed.len() - 1 - k].0);
    TABLE.row(
        &format!(
            "{name}: claim wall time, {jobs} fires, {}",
            match mode {
                Mode::AtInstant => "from T",
                Mode::Ahead => "from T − lookahead",
            }
        ),
        &once(claim_span),
        &format!(
            "{:.0} fires/s; first {k} fires {:.0} ms, last {k} {:.0} ms; process CPU {:.2} s = {:.0} µs/fire{}",
            JOBS as f64 / claim_span.as_secs_f64(),
            ms(first_k),
            ms(last_k),
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / JOBS as f64,
            if db == Db::Postgres {
                format!(
                    "; PostgreSQL server CPU {:.2} s = {:.0} µs/fire",
                    pg_cpu.as_secs_f64(),
                    pg_cpu.as_secs_f64() * 1e6 / JOBS as f64
                )
            } else {
                String::new()
            }
        ),
    );

    // The dispatcher: when did the first runs start (the cron lane has
    // CRON_SLOTS slots), and did any start before T?
    let mut starts: Vec<i64> = seen.started.values().map(|at| at - t_ms * 1_000).collect();
    starts.sort_unstable();
    assert!(
        starts.len() >= CRON_SLOTS as usize,
        "the first {CRON_SLOTS} runs started"
    );
    assert!(
        starts[0] >= 0,
        "a run started {} µs before its fire",
        -starts[0]
    );
    let first_starts: Vec<Duration> = starts[..CRON_SLOTS as usize]
        .iter()
        .map(|d| us(*d))
        .collect();

    // What the store says: every fire once, queued for its instant (claimed
    // ahead) or at the tick (claimed at T), none started before T.
    let mut stored = Vec::with_capacity(JOBS);
    let mut filter = RunFilter {
        limit: 500,
        ..RunFilter::default()
    };
    loop {
        let page = store.runs(&filter).await.expect("runs page");
        let Some(last) = page.last() else { break };
        filter.before = Some((last.queued_at_ms, last.run_id.clone()));
        stored.extend(page);
    }
    assert_eq!(stored.len(), JOBS, "each fire queued exactly once");
    let early = stored
        .iter()
        .filter(|r| r.started_at_ms.is_some_and(|s| s < t_ms))
        .count();
    assert_eq!(early, 0, "runs started before their fire");
    let started_runs = stored.iter().filter(|r| r.started_at_ms.is_some()).count();
    let first_started = stored.iter().filter_map(|r| r.started_at_ms).min();
    TABLE.row(
        &format!(
            "{name}: T → dispatcher starts the first {CRON_SLOTS} runs, {}",
            match mode {
                Mode::AtInstant => "claimed at T",
                Mode::Ahead => "claimed ahead",
            }
        ),
        &stats(first_starts),
        &format!(
            "`RunEvent::Running`; first {:.1} ms, {CRON_SLOTS}th {:.1} ms; stored started_at_ms ≥ T for all {started_runs} started (earliest T+{} ms)",
            ms(us(starts[0])),
            ms(us(starts[CRON_SLOTS as usize - 1])),
            first_started.map_or(0, |s| s - t_ms)
        ),
    );
    let distinct_queued_at = stored
        .iter()
        .map(|r| r.queued_at_ms)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    TABLE.row(
        &format!(
            "{name}: stored queued_at_ms − scheduled_for_ms, {}",
            mode.label()
        ),
        &stats(
            stored
                .iter()
                .map(|r| us((r.queued_at_ms - t_ms) * 1_000))
                .collect(),
        ),
        &format!(
            "{distinct_queued_at} distinct queued_at_ms: {}",
            match mode {
                Mode::AtInstant => "the tick's `now`, read before its first fire",
                Mode::Ahead => "the fire's instant (claimed ahead, runnable from then)",
            }
        ),
    );

    let durations: Vec<Duration> = seen
        .finished
        .iter()
        .filter(|(_, end)| *end <= stop_at_us)
        .filter_map(|(id, end)| seen.started.get(id).map(|start| us(end - start)))
        .collect();
    let done = durations.len();
    if done > 0 {
        TABLE.row(
            &format!("{name}: backlog drain from T (run start → end), {}", mode.label()),
            &stats(durations),
            &format!(
                "spawned loop, cron_slots {CRON_SLOTS}: {done} runs finished in the {:.1} s from T = {:.1} runs/s",
                drain_window.as_secs_f64(),
                done as f64 / drain_window.as_secs_f64()
            ),
        );
    } else {
        eprintln!("{name}: no run finished in the drain window");
    }
    let notes = match cleared {
        None => "stopped within the grace period".to_owned(),
        Some(cleared) => format!(
            "did not stop in {:.0} s with the backlog queued; {cleared} queued runs cancelled by the bench, then stopped {:.0} ms later",
            STOP_GRACE.as_secs_f64(),
            ms(after_clear)
        ),
    };
    if mode == Mode::Ahead {
        TABLE.row(
            &format!("{name}: stop token → spawned loop exits, backlog queued"),
            &once(stop_latency),
            &notes,
        );
    }
    store.close().await;
}

// ---------------------------------------------------------------------------
// Part 2: the Runs page over 1,000,000 runs.

/// `INSERT … SELECT` of runs `lo..=hi`: run `i` is queued at
/// `base + i * RUN_SPACING_MS`, for job `(i * 7919) % 10000` (every job
/// ~100 runs over the 30 days) of agent `job % 50`; 2 % manual; ~89 % ok,
/// 6 % error in six classes, 2 % timeout, 1 % cancelled, 1 % skipped; 5 %
/// served by a fallback. `h` and `f` are cheap hashes of `i`, so status and
/// fallback do not repeat with the job.
fn bulk_insert_sql(db: Db, base_ms: i64, lo: i64, hi: i64) -> String {
    let (series, job, agent) = match db {
        Db::Sqlite => (
            format!("RECURSIVE s(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM s WHERE i < {hi})"),
            "printf('%05d', j)",
            "printf('%02d', j % 50)",
        ),
        Db::Postgres => (
            format!("s(i) AS (SELECT generate_series({lo}::bigint, {hi}::bigint))"),
            "lpad(j::text, 5, '0')",
            "lpad((j % 50)::text, 2, '0')",
        ),
    };
    let classes = ERROR_CLASSES
        .iter()
        .enumerate()
        .map(|(n, c)| format!("WHEN {n} THEN '{c}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let n_classes = ERROR_CLASSES.len();
    format!(
        "WITH {series},
         a AS (SELECT i, (i * 7919) % 10000 AS j, ((i * 1103515245 + 12345) / 65536) % 1000 AS h,
                      ((i * 69069 + 1) / 1024) % 100 AS f, {base_ms} + i * {RUN_SPACING_MS} AS q,
                      CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END AS m
               FROM s),
         b AS (SELECT i, j, h, f, q, m, 'job-' || {job} AS job, 'agent-' || {agent} AS agent,
                      CASE WHEN h < 880 OR h >= 980 THEN 'ok' WHEN h < 940 THEN 'error'
                           WHEN h < 960 THEN 'timeout' WHEN h < 970 THEN 'cancelled' ELSE 'skipped' END AS st,
                      CASE WHEN f < 5 AND (h < 970 OR h >= 980) THEN 1 ELSE 0 END AS fb
               FROM a),
         c AS (SELECT b.*, CASE st WHEN 'error' THEN (CASE h % {n_classes} {classes} END)
                                   WHEN 'timeout' THEN 'run_timeout' WHEN 'cancelled' THEN 'cancelled' END AS cls
               FROM b)
         INSERT INTO run (run_id, job_id, agent_id, trigger, scheduled_for_ms, status, queued_at_ms,
             started_at_ms, finished_at_ms, duration_ms, deadline_ms, error, error_class, note, model,
             harness, fallback_used, input_tokens, output_tokens, attempts, lane, lane_wait_ms,
             queue_ahead, owner)
         SELECT
           CASE WHEN m = 1 THEN 'manual:' || job || ':' || i ELSE 'cron:' || job || ':' || (q - h % 37) END,
           job, agent, CASE WHEN m = 1 THEN 'manual' ELSE 'cron' END,
           CASE WHEN m = 1 THEN NULL ELSE q - h % 37 END,
           st, q,
           CASE WHEN st = 'skipped' THEN NULL ELSE q + f * 7 END,
           CASE WHEN st = 'skipped' THEN q ELSE q + f * 7 + 2000 + (h * 61) % 60000 END,
           CASE WHEN st = 'skipped' THEN NULL ELSE 2000 + (h * 61) % 60000 END,
           q + 1800000,
           CASE WHEN cls IS NULL THEN NULL ELSE 'sim/m: ' || cls || ' (bench)' END,
           cls,
           CASE WHEN st = 'skipped' THEN '1 fire(s) missed while the server was down; skipped (missed: skip)' END,
           CASE WHEN st = 'skipped' THEN NULL WHEN fb = 1 THEN 'sim/fallback' ELSE 'sim/m' END,
           CASE WHEN st = 'skipped' THEN NULL ELSE 'native' END,
           fb,
           CASE WHEN st = 'skipped' THEN 0 ELSE 200 + h END,
           CASE WHEN st = 'skipped' THEN 0 ELSE 20 + f END,
           CASE WHEN st = 'skipped' THEN 0 ELSE 1 + fb END,
           'agent:' || agent,
           CASE WHEN st = 'skipped' THEN NULL ELSE f * 7 END,
           f % 3,
           CASE WHEN st = 'skipped' THEN NULL ELSE 'bench-host:4242:1' END
         FROM c"
    )
}

/// Runs `statements` in order on a connection of the bench's own (not the
/// store's pool); returns the rows each affected.
async fn side_exec(target: &Target, statements: &[String]) -> Vec<u64> {
    let mut affected = Vec::with_capacity(statements.len());
    match target {
        Target::Sqlite(path) => {
            use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
            let options = SqliteConnectOptions::new()
                .filename(path)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                // This connection's page cache only: the store's own
                // connections keep SQLite's default.
                .pragma("cache_size", "-262144");
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("bench's sqlite connection");
            for sql in statements {
                let done = sqlx::query(sql).execute(&pool).await.expect(sql);
                affected.push(done.rows_affected());
            }
            pool.close().await;
        }
        Target::Postgres(schema) => {
            use sqlx::postgres::PgConnectOptions;
            use std::str::FromStr;
            let options = PgConnectOptions::from_str(&postgres_url())
                .expect("postgres url")
                .options([("search_path", schema.as_str())]);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .expect("bench's postgres connection");
            for sql in statements {
                let done = sqlx::query(sql).execute(&pool).await.expect(sql);
                affected.push(done.rows_affected());
            }
            pool.close().await;
        }
    }
    affected
}

/// Loads `RUNS` runs, `INSERT_CHUNK` per statement.
async fn bulk_load(db: Db, target: &Target, base_ms: i64) -> Duration {
    let mut statements: Vec<String> = (0..RUNS / INSERT_CHUNK)
        .map(|c| bulk_insert_sql(db, base_ms, c * INSERT_CHUNK + 1, (c + 1) * INSERT_CHUNK))
        .collect();
    statements.push(match db {
        Db::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)".to_owned(),
        // Autovacuum would analyze a table that grew this much within a
        // minute; done here so the plans do not depend on its timing.
        Db::Postgres => "ANALYZE run".to_owned(),
    });
    let t = Instant::now();
    let affected = side_exec(target, &statements).await;
    let elapsed = t.elapsed();
    assert_eq!(
        affected[..affected.len() - 1].iter().sum::<u64>(),
        RUNS as u64
    );
    elapsed
}

/// One kind of Runs page request; `filter(k)` is the k-th request's filter.
struct Case {
    name: &'static str,
    notes: &'static str,
    filter: Box<dyn Fn(usize) -> RunFilter>,
    check: fn(&RunFilter, &engine::runs::RunRecord) -> bool,
}

fn page(f: RunFilter) -> RunFilter {
    RunFilter { limit: PAGE, ..f }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "newest page, no filter",
            notes: "",
            filter: Box::new(|_| page(RunFilter::default())),
            check: |_, _| true,
        },
        Case {
            name: "agent = agent-NN",
            notes: "2 % of runs; 50 agents in turn",
            filter: Box::new(|k| {
                page(RunFilter {
                    agent_id: Some(format!("agent-{:02}", k % AGENTS)),
                    ..RunFilter::default()
                })
            }),
            check: |f, r| Some(&r.agent_id) == f.agent_id.as_ref(),
        },
        Case {
            name: "status = error",
            notes: "6 % of runs",
            filter: Box::new(|_| {
                page(RunFilter {
                    status: Some(RunStatus::Error),
                    ..RunFilter::default()
                })
            }),
            check: |_, r| r.status == RunStatus::Error,
        },
        Case {
            name: "job = job-NNNNN",
            notes: "0.01 % of runs (~100 per job); a different job each time",
            filter: Box::new(|k| {
                page(RunFilter {
                    job_id: Some(format!("job-{:05}", (k * 7_919 + 13) % JOBS)),
                    ..RunFilter::default()
                })
            }),
            check: |f, r| Some(&r.job_id) == f.job_id.as_ref(),
        },
        Case {
            name: "error_class = <class>",
            notes: "1 % of runs each; six classes in turn",
            filter: Box::new(|k| {
                page(RunFilter {
                    error_class: Some(ERROR_CLASSES[k % ERROR_CLASSES.len()].to_owned()),
                    ..RunFilter::default()
                })
            }),
            check: |f, r| r.error_class == f.error_class,
        },
        Case {
            name: "fallback_used = true",
            notes: "5 % of runs",
            filter: Box::new(|_| {
                page(RunFilter {
                    fallback_used: Some(true),
                    ..RunFilter::default()
                })
            }),
            check: |_, r| r.fallback_used,
        },
    ]
}

async fn time_case(
    store: &Store,
    filter_of: &dyn Fn(usize) -> RunFilter,
    check: fn(&RunFilter, &engine::runs::RunRecord) -> bool,
) -> Vec<Duration> {
    let mut times = Vec::with_capacity(QUERIES);
    let started = Instant::now();
    for k in 0..QUERY_WARMUP + QUERIES {
        let filter = filter_of(k);
        let t = Instant::now();
        let result = store.run_page(&filter).await.expect("run page");
        let elapsed = t.elapsed();
        assert_eq!(result.runs.len() as i64, PAGE, "a full page");
        assert!(result.runs.iter().all(|r| check(&filter, r)));
        std::hint::black_box(result);
        if k >= QUERY_WARMUP {
            times.push(elapsed);
            if times.len() >= QUERY_MIN && started.elapsed() > QUERY_BUDGET {
                break;
            }
        }
    }
    times
}

async fn runs_page(db: Db, store: Store, target: Target) {
    let name = db.name();
    let base_ms = (real_us() / 1_000 / EVERY_MS) * EVERY_MS - 30 * 86_400_000;
    let load = bulk_load(db, &target, base_ms).await;
    TABLE.row(
        &format!("{name}: bulk-load 1,000,000 runs (bench's own connection)"),
        &once(load),
        &format!(
            "{:.0} rows/s, one INSERT … SELECT per 100,000; set-up, not a product path",
            RUNS as f64 / load.as_secs_f64()
        ),
    );
    let newest = store
        .runs(&page(RunFilter::default()))
        .await
        .expect("newest");
    assert_eq!(newest[0].queued_at_ms, base_ms + RUNS * RUN_SPACING_MS);

    for case in cases() {
        let times = time_case(&store, case.filter.as_ref(), case.check).await;
        let s = stats(times);
        TABLE.row(
            &format!("{name}: runs page (50), {}", case.name),
            &s,
            &format!("{}{}", case.notes, verdict(&s)),
        );
    }

    // Paging on from ~900,000 runs back, cursor after cursor.
    let cursor = store
        .runs(&RunFilter {
            before: Some((
                base_ms + (RUNS - DEEP_ROWS + 1) * RUN_SPACING_MS,
                String::new(),
            )),
            limit: 1,
            ..RunFilter::default()
        })
        .await
        .expect("deep cursor");
    let mut before = (cursor[0].queued_at_ms, cursor[0].run_id.clone());
    let mut times = Vec::with_capacity(QUERIES);
    let started = Instant::now();
    for k in 0..QUERY_WARMUP + QUERIES {
        let filter = page(RunFilter {
            before: Some(before.clone()),
            ..RunFilter::default()
        });
        let t = Instant::now();
        let result = store.run_page(&filter).await.expect("deep page");
        let elapsed = t.elapsed();
        assert_eq!(result.runs.len() as i64, PAGE);
        assert!(result.runs.iter().all(|r| r.queued_at_ms <= before.0));
        let next = result.next.as_deref().expect("a next cursor");
        let (at, id) = next.split_once('|').expect("cursor");
        before = (at.parse().expect("cursor time"), id.to_owned());
        if k >= QUERY_WARMUP {
            times.push(elapsed);
            if times.len() >= QUERY_MIN && started.elapsed() > QUERY_BUDGET {
                break;
            }
        }
    }
    let s = stats(times);
    TABLE.row(
        &format!("{name}: runs page (50), `before` cursor ~900,000 runs back"),
        &s,
        &format!("next page each time{}", verdict(&s)),
    );
    store.close().await;
}

fn verdict(s: &Stats) -> String {
    if s.p99 < Duration::from_millis(20) {
        String::new()
    } else {
        format!("; target < 20 ms MISSED (max {:.0} ms)", ms(s.max))
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let started = Instant::now();
    let sim = Arc::new(
        SimProvider::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("sim provider"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut guards = Vec::new();
    // `cargo bench -p engine --bench scheduler -- fires` (or `runs-page`)
    // runs one part; no argument runs both.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let part = |name: &str| only.is_empty() || only.iter().any(|a| a == name);
    TABLE.header();
    for db in [Db::Sqlite, Db::Postgres]
        .into_iter()
        .filter(|_| part("fires"))
    {
        for (mode, what) in [(Mode::Ahead, "fires"), (Mode::AtInstant, "fires_at_t")] {
            let Some((store, target)) = open(db, dir.path(), what, &mut guards).await else {
                continue;
            };
            fire_storm(db, mode, store, &target, &sim, dir.path()).await;
            eprintln!(
                "part 1, {}, {}: {:.1} s",
                db.name(),
                mode.label(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    for db in [Db::Sqlite, Db::Postgres]
        .into_iter()
        .filter(|_| part("runs-page"))
    {
        let Some((store, target)) = open(db, dir.path(), "runs", &mut guards).await else {
            continue;
        };
        runs_page(db, store, target).await;
        eprintln!(
            "part 2, {}: {:.1} s",
            db.name(),
            started.elapsed().as_secs_f64()
        );
    }
    drop(guards);
    eprintln!("scheduler bench: {:.1} s", started.elapsed().as_secs_f64());
}
