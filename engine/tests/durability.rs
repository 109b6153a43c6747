//! Acknowledged writes are durable: when the disk refuses a write, every
//! store write answers an error, never a success for something that was not
//! stored, and once there is room again everything acknowledged is there.
//!
//! Two real faults, each failing the write SQLite makes at commit time:
//! - a small tmpfs filled to the last block (needs root to mount, as on this
//!   machine and in CI; elsewhere that test says `SKIP` and passes);
//! - a file-size limit (`RLIMIT_FSIZE`) at the write-ahead log's current
//!   size, which runs anywhere. It is process-wide, so the two tests take
//!   turns (`ONE_AT_A_TIME`) and this binary holds nothing else.

use engine::clock::ManualClock;
use engine::fleet::Fleet;
use engine::runs::{RunLogLine, RunStatus};
use engine::store::{
    CircuitRow, CooldownRow, DecisionRow, Fire, LaneCounts, NewRevision, NewRun, Reschedule,
    RunEnd, Store,
};
use engine::{Error, ErrorKind};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A tmpfs of `size` mounted on a fresh temp dir; unmounted on drop (lazily,
/// so a test that panicked with files still open leaves no mount behind).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file until the file system refuses: afterwards not one more
/// block can be allocated (tmpfs allocates whole pages).
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0u8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    path
}

fn decision(run_id: &str) -> DecisionRow {
    DecisionRow {
        id: 0,
        run_id: run_id.to_owned(),
        attempt: 1,
        at_ms: 1,
        agent_id: Some("builder".into()),
        requested: "sim/ok".into(),
        candidate: "sim/ok".into(),
        provider: "sim".into(),
        model: "ok".into(),
        harness: "native".into(),
        decision: "candidate_failed".into(),
        reason: "server_error".into(),
        next: None,
        detail: "x".repeat(2000),
        latency_ms: 5,
    }
}

fn new_run<'a>(job_id: &'a str, lane: &'a str) -> NewRun<'a> {
    NewRun {
        job_id,
        agent_id: "a",
        lane,
        queued_at_ms: 1,
        deadline_ms: Some(1_000_000),
    }
}

fn cooldown(model: &str) -> CooldownRow {
    CooldownRow {
        provider: "sim".into(),
        model: model.into(),
        failures: 1,
        until_ms: 5,
        reason: "server_error".into(),
        detail: "HTTP 500".into(),
        probe_until_ms: 0,
    }
}

fn circuit(provider: &str) -> CircuitRow {
    CircuitRow {
        provider: provider.into(),
        failures: 3,
        open_until_ms: 5,
        times_opened: 1,
        probe_until_ms: 0,
    }
}

const OWNER: &str = "host:1:1";

/// Rows for every write below to change: a job state, a running run, two
/// queued runs (lanes of their own), a cooldown and an open circuit.
async fn prepare(store: &Store) -> (String, String, String) {
    store
        .ensure_job_states(&[("j".into(), Some(1000), "fp".into())], 1)
        .await
        .unwrap();
    let running = store.enqueue_manual(&new_run("j", "l1")).await.unwrap();
    let queued = store.enqueue_manual(&new_run("j", "l2")).await.unwrap();
    let cancellable = store.enqueue_manual(&new_run("j", "l3")).await.unwrap();
    assert!(store
        .start_run(&running, OWNER, 2, 100, None)
        .await
        .unwrap());
    store.put_cooldown(&cooldown("held"), 1).await.unwrap();
    store.put_circuit(&circuit("held"), 1).await.unwrap();
    (running, queued, cancellable)
}

/// Every write method of the store, each changing something. Answers
/// (what, result) in order, so the same list runs on a full disk (all must
/// fail) and after space is freed (all must succeed: the failures left
/// nothing half-done behind).
async fn every_write(
    store: &Store,
    (running, queued, cancellable): &(String, String, String),
) -> Vec<(&'static str, Result<String, Error>)> {
    let ok = |r: Result<(), Error>| r.map(|()| String::new());
    let fire = Fire {
        run: new_run("j", "l4"),
        schedule_fp: "fp",
        expected_next: 1000,
        scheduled_for_ms: 1000,
        next_run_at_ms: Some(2000),
        skip: false,
        note: None,
    };
    let end = RunEnd {
        status: RunStatus::Ok,
        error: None,
        error_class: None,
        model: None,
        harness: None,
        fallback_used: false,
        input_tokens: 1,
        output_tokens: 1,
        attempts: 1,
    };
    let log = RunLogLine {
        run_id: running.clone(),
        at_ms: 3,
        level: "INFO".into(),
        line: "a line".into(),
    };
    vec![
        (
            "insert_decision",
            store
                .insert_decision(&decision("r"))
                .await
                .map(|id| id.to_string()),
        ),
        (
            "put_cooldown",
            ok(store.put_cooldown(&cooldown("new"), 3).await),
        ),
        (
            "claim_cooldown_probe",
            store
                .claim_cooldown_probe("sim", "held", OWNER, 10, 20)
                .await
                .map(|b| b.to_string()),
        ),
        (
            "clear_cooldown",
            ok(store.clear_cooldown("sim", "held").await),
        ),
        (
            "put_circuit",
            ok(store.put_circuit(&circuit("new"), 3).await),
        ),
        (
            "claim_circuit_probe",
            store
                .claim_circuit_probe("held", OWNER, 10, 20)
                .await
                .map(|b| b.to_string()),
        ),
        ("clear_circuit", ok(store.clear_circuit("held").await)),
        (
            "append_transcript",
            ok(store
                .append_transcript(running, 1, 3, "user", &json!({"text": "hi"}))
                .await),
        ),
        ("append_run_logs", ok(store.append_run_logs(&[log]).await)),
        ("note_run", ok(store.note_run(running, "a note").await)),
        (
            "ensure_job_states",
            ok(store
                .ensure_job_states(&[("k".into(), Some(1000), "fp".into())], 3)
                .await),
        ),
        (
            "enqueue_manual",
            store.enqueue_manual(&new_run("j", "l5")).await,
        ),
        (
            "fire_many",
            store
                .fire_many(&[fire], 3, &mut LaneCounts::default())
                .await
                .map(|r| format!("{r:?}")),
        ),
        (
            "reschedule",
            store
                .reschedule(
                    &[Reschedule {
                        job_id: "j".into(),
                        expected_fp: Some("fp".into()),
                        schedule_fp: "fp2".into(),
                        next_run_at_ms: Some(5000),
                        skip: Vec::new(),
                    }],
                    3,
                )
                .await
                .map(|r| format!("{r:?}")),
        ),
        (
            "start_run",
            store
                .start_run(queued, OWNER, 3, 100, None)
                .await
                .map(|b| b.to_string()),
        ),
        (
            "heartbeat",
            store
                .heartbeat(OWNER, std::slice::from_ref(running), 200)
                .await
                .map(|r| format!("{r:?}")),
        ),
        (
            "request_cancel queued",
            store
                .request_cancel(cancellable, 3)
                .await
                .map(|s| s.to_string()),
        ),
        (
            "request_cancel running",
            store
                .request_cancel(running, 3)
                .await
                .map(|s| s.to_string()),
        ),
        (
            "finish_run",
            store
                .finish_run(running, &end, 4)
                .await
                .map(|b| b.to_string()),
        ),
        (
            "reap",
            store.reap(1_000_000, &[]).await.map(|r| format!("{r:?}")),
        ),
    ]
}

/// How a test takes the disk's room away and gives it back.
trait Fault {
    /// What the store's error names (`database write failed: <reason>`).
    const REASON: &'static str;
    fn fill(&mut self);
    fn free(&mut self);
}

/// The story on a store in `dir`: acknowledged writes, then the fault, then
/// every write (all must fail), then room again (all acknowledged writes
/// readable, every write succeeds).
async fn story<F: Fault>(dir: &Path, fault: &mut F) {
    let store = Store::open_sqlite(&dir.join("switchyard.db"))
        .await
        .unwrap();
    let fleet = Fleet::new(store.clone(), Arc::new(ManualClock::new(1_776_764_844_708)));
    fleet
        .seed_if_empty(&engine::sim::demo::fleet_config(), "seed")
        .await
        .unwrap();
    let mut acknowledged = vec![store.head_revision().await.unwrap().unwrap().info];
    let big = json!({"filler": "x".repeat(64 * 1024)});
    let append = |base| {
        let store = store.clone();
        let big = big.clone();
        async move {
            store
                .append_revision(
                    Some(&base),
                    NewRevision {
                        author: "op",
                        message: "big",
                        created_at_ms: 2,
                        body: &big,
                    },
                )
                .await
        }
    };
    acknowledged.push(append(acknowledged[0].clone()).await.unwrap());
    let decided = store.insert_decision(&decision("run-1")).await.unwrap();
    let rows = prepare(&store).await;

    fault.fill();
    let head = acknowledged.last().unwrap().clone();
    // Twice, as the operator retried: each must fail, not answer an id
    // (before the fix: the same id both times, and no such revision).
    for attempt in 0..2 {
        let result = append(head.clone()).await;
        assert_refused::<F>(result, &format!("append_revision, attempt {attempt}"));
    }
    let config = fleet.document().await.unwrap().config;
    let result = fleet
        .put_config(&head.hash, &config, "op", "with no room")
        .await;
    assert_refused::<F>(result, "Fleet::put_config");
    // One after another on the same pool: a write after a failed commit
    // must fail too (a connection left in a transaction by sqlx answered
    // success and held the write lock).
    for (what, result) in every_write(&store, &rows).await {
        assert_refused::<F>(result, what);
    }
    assert_eq!(store.head_revision().await.unwrap().unwrap().info, head);

    fault.free();
    acknowledged.push(append(head).await.unwrap());
    for info in &acknowledged {
        assert_eq!(&store.revision(info.id).await.unwrap().info, info);
    }
    let decisions = store.recent_decisions(None, 10).await.unwrap();
    assert_eq!(
        decisions.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![decided]
    );
    // With room again, the same writes all succeed: the failed ones left
    // nothing half-done (the manual run number was not used up, no
    // connection holds a lock).
    for (what, result) in every_write(&store, &rows).await {
        let answer = result.unwrap_or_else(|e| panic!("{what} with room again: {e}"));
        if what == "enqueue_manual" {
            assert_eq!(answer, "manual:j:4");
        }
    }
    store.close().await;
}

/// A tmpfs filled to its last block by a file.
struct FullTmpfs<'a> {
    disk: &'a Tmpfs,
    filler: Option<PathBuf>,
}

impl Fault for FullTmpfs<'_> {
    const REASON: &'static str = "disk full";
    fn fill(&mut self) {
        self.filler = Some(fill(self.disk.path()));
    }
    fn free(&mut self) {
        std::fs::remove_file(self.filler.take().unwrap()).unwrap();
    }
}

#[tokio::test]
async fn a_full_disk_fails_writes_and_loses_nothing_acknowledged() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let disk = match Tmpfs::mount("8m") {
        Ok(d) => d,
        Err(why) => {
            println!("SKIP: cannot mount a tmpfs to fill ({why}); run as root to test a full disk");
            return;
        }
    };
    story(
        disk.path(),
        &mut FullTmpfs {
            disk: &disk,
            filler: None,
        },
    )
    .await;
}

/// `RLIMIT_FSIZE` at the write-ahead log's size: the kernel refuses every
/// write past it (`EFBIG`; SIGXFSZ is ignored so it is an error, not a
/// kill), as a full disk refuses the log's next frame. Restored on drop.
struct FileSizeLimit {
    wal: PathBuf,
    saved: Option<libc::rlimit>,
}

impl Fault for FileSizeLimit {
    const REASON: &'static str = "I/O error";
    fn fill(&mut self) {
        let size = std::fs::metadata(&self.wal).unwrap().len();
        let mut saved = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on values owned here.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut saved), 0);
            let limit = libc::rlimit {
                rlim_cur: size as libc::rlim_t,
                rlim_max: saved.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
        self.saved = Some(saved);
    }
    fn free(&mut self) {
        if let Some(saved) = self.saved.take() {
            // SAFETY: restores the limit read in `fill`.
            unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &saved) };
        }
    }
}

impl Drop for FileSizeLimit {
    fn drop(&mut self) {
        self.free();
    }
}

#[tokio::test]
async fn a_refused_log_write_fails_writes_and_loses_nothing_acknowledged() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut fault = FileSizeLimit {
        wal: dir.path().join("switchyard.db-wal"),
        saved: None,
    };
    story(dir.path(), &mut fault).await;
}

fn assert_refused<F: Fault>(result: Result<impl std::fmt::Debug, Error>, what: &str) {
    let err = match result {
        Ok(answer) => panic!("{what} with no room answered Ok({answer:?})"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{what}: {err}");
    let expected = format!("database write failed: {}", F::REASON);
    assert!(err.to_string().starts_with(&expected), "{what}: {err}");
}
