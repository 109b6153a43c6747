//! The store story, run on SQLite and on PostgreSQL.

mod common;

use common::TestDb;
use engine::clock::ManualClock;
use engine::config::{HarnessFallback, HarnessPatch, Source};
use engine::fleet::Fleet;
use engine::store::{
    DecisionRow, NewRevision, MAX_DETAIL_BYTES, MAX_LOG_LINE_BYTES, MAX_TRANSCRIPT_ENTRY_BYTES,
};
use engine::{sim, Error, ErrorKind};
use serde_json::json;
use std::sync::Arc;

fn fleet(db: &TestDb) -> Fleet {
    Fleet::new(
        db.store.clone(),
        Arc::new(ManualClock::new(1_776_764_844_708)),
    )
}

fn patch(fallback: &str) -> HarnessPatch {
    HarnessPatch {
        fallback: Some(fallback.into()),
        ..Default::default()
    }
}

on_both_backends!(
    empty_database_has_an_empty_fleet,
    seeds_once_and_never_overwrites,
    harness_change_is_stored_and_survives_a_restart,
    bad_value_is_refused_and_nothing_is_stored,
    stale_base_gets_a_conflict_and_writes_nothing,
    racing_writers_make_one_revision_and_one_conflict,
    equal_bodies_still_get_distinct_hashes,
    a_revision_that_would_not_read_back_is_not_stored,
    outside_text_is_bounded_when_stored,
);

async fn empty_database_has_an_empty_fleet(db: &TestDb) {
    let fleet = fleet(db);
    let view = fleet.view().await.unwrap();
    assert_eq!((view.revision, view.agents.len()), (None, 0));
    let err = fleet
        .set_harness("builder", &patch("none"), "op")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(db.store.head_revision().await.unwrap().is_none());
}

async fn seeds_once_and_never_overwrites(db: &TestDb) {
    let fleet = fleet(db);
    assert!(db.store.head_revision().await.unwrap().is_none());
    assert!(fleet
        .seed_if_empty(&sim::demo::fleet_config(), "seed")
        .await
        .unwrap());
    let first = db.store.head_revision().await.unwrap().unwrap();
    assert_eq!(first.info.parent, None);

    fleet
        .set_harness("builder", &patch("none"), "op")
        .await
        .unwrap();
    // A later start must not reseed over the operator's change.
    assert!(!fleet
        .seed_if_empty(&sim::demo::fleet_config(), "seed")
        .await
        .unwrap());
    let agent = fleet.agent("builder").await.unwrap();
    assert_eq!(agent.agent.fallback.value, HarnessFallback::None);
    assert_eq!(db.store.revisions(10).await.unwrap().len(), 2);
}

async fn harness_change_is_stored_and_survives_a_restart(db: &TestDb) {
    let fleet = fleet(db);
    fleet
        .seed_if_empty(&sim::demo::fleet_config(), "seed")
        .await
        .unwrap();
    let changed = fleet
        .set_harness("release-engineer", &patch("none"), "op")
        .await
        .unwrap();
    assert_eq!(changed.fallback.value, HarnessFallback::None);
    assert_eq!(changed.fallback.source, Source::Agent);
    db.store.close().await;

    let reopened = Fleet::new(db.reopen().await, Arc::new(ManualClock::new(0)));
    let view = reopened.view().await.unwrap();
    let re = view
        .agents
        .iter()
        .find(|a| a.agent.id.as_str() == "release-engineer")
        .unwrap();
    assert_eq!(re.agent.fallback.value, HarnessFallback::None);
    let revision = view.revision.unwrap();
    assert_eq!(revision.author, "op");
    assert_eq!(
        revision.message,
        "release-engineer: embeddedHarness fallback=none"
    );
    // The others still inherit.
    let builder = view
        .agents
        .iter()
        .find(|a| a.agent.id.as_str() == "builder")
        .unwrap();
    assert_eq!(builder.agent.fallback.source, Source::Defaults);
}

async fn bad_value_is_refused_and_nothing_is_stored(db: &TestDb) {
    let fleet = fleet(db);
    fleet
        .seed_if_empty(&sim::demo::fleet_config(), "seed")
        .await
        .unwrap();
    let before = db.store.head_revision().await.unwrap().unwrap();
    let err = fleet
        .set_harness("release-engineer", &patch("ollama"), "op")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(
        err.problems()[0].path,
        "agents.entries.release-engineer.embeddedHarness.fallback"
    );
    assert!(err.problems()[0]
        .message
        .contains("allowed values: pi, codex, none"));
    assert_eq!(db.store.head_revision().await.unwrap().unwrap(), before);

    let err = fleet
        .set_harness("ghost", &patch("pi"), "op")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(db.store.head_revision().await.unwrap().unwrap(), before);
}

async fn stale_base_gets_a_conflict_and_writes_nothing(db: &TestDb) {
    let store = &db.store;
    let body = json!({"agents": {}});
    let new = |message| NewRevision {
        author: "op",
        message,
        created_at_ms: 1,
        body: &body,
    };
    let first = store.append_revision(None, new("first")).await.unwrap();
    let second = store
        .append_revision(Some(&first), new("second"))
        .await
        .unwrap();
    let err = store
        .append_revision(Some(&first), new("stale"))
        .await
        .unwrap_err();
    match err {
        Error::Conflict { current_hash } => assert_eq!(current_hash, second.hash),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let all = store.revisions(10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(),
        ["second", "first"]
    );
    assert_eq!(all[0].parent, Some(first.id));
}

async fn racing_writers_make_one_revision_and_one_conflict(db: &TestDb) {
    let store = &db.store;
    let body = json!({});
    let base = store
        .append_revision(
            None,
            NewRevision {
                author: "op",
                message: "base",
                created_at_ms: 1,
                body: &body,
            },
        )
        .await
        .unwrap();
    let (a, b) = (json!({"a": 1}), json!({"b": 2}));
    let write = |body| {
        let (store, base) = (store.clone(), base.clone());
        async move {
            store
                .append_revision(
                    Some(&base),
                    NewRevision {
                        author: "op",
                        message: "race",
                        created_at_ms: 2,
                        body,
                    },
                )
                .await
        }
    };
    let (ra, rb) = tokio::join!(write(&a), write(&b));
    let outcomes = [ra.is_ok(), rb.is_ok()];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "{ra:?} {rb:?}"
    );
    let loser = if ra.is_ok() { rb } else { ra };
    assert!(matches!(loser, Err(Error::Conflict { .. })));
    assert_eq!(store.revisions(10).await.unwrap().len(), 2);
}

async fn equal_bodies_still_get_distinct_hashes(db: &TestDb) {
    let store = &db.store;
    let body = json!({"agents": {"entries": {}}});
    let new = NewRevision {
        author: "op",
        message: "m",
        created_at_ms: 1,
        body: &body,
    };
    let first = store.append_revision(None, new).await.unwrap();
    let new = NewRevision {
        author: "op",
        message: "m",
        created_at_ms: 1,
        body: &body,
    };
    let second = store.append_revision(Some(&first), new).await.unwrap();
    assert_ne!(first.hash, second.hash);
    assert_eq!(store.revision(second.id).await.unwrap().body, body);
}

/// `depth` arrays inside each other around a string.
fn nested(depth: usize) -> serde_json::Value {
    (0..depth).fold(json!("bottom"), |inner, _| json!([inner]))
}

/// A revision is acknowledged only once it is proven readable: a body the
/// reader refuses (deeper than serde_json reads back) is not stored, and
/// reads keep working. Before, such a revision was stored and every later
/// read, write and rollback failed (the server did not start again).
async fn a_revision_that_would_not_read_back_is_not_stored(db: &TestDb) {
    let store = &db.store;
    let fleet = fleet(db);
    fleet
        .seed_if_empty(&sim::demo::fleet_config(), "seed")
        .await
        .unwrap();
    let head = store.head_revision().await.unwrap().unwrap().info;
    let deep = json!({"agents": {"entries": {}}, "deep": nested(200)});
    let err = store
        .append_revision(
            Some(&head),
            NewRevision {
                author: "op",
                message: "deep",
                created_at_ms: 2,
                body: &deep,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("would not read back"), "{err}");
    // Through the fleet (the path of PUT /api/v1/config): refused, whichever
    // check refuses it first.
    let mut config = fleet.document().await.unwrap().config;
    config["zzz"] = json!({"unknown": nested(200)});
    fleet
        .put_config(&head.hash, &config, "op", "deep")
        .await
        .unwrap_err();
    assert_eq!(store.head_revision().await.unwrap().unwrap().info, head);
    assert_eq!(store.revisions(10).await.unwrap().len(), 1);
    fleet.view().await.unwrap();
    fleet
        .set_harness("builder", &patch("none"), "op")
        .await
        .unwrap();
}

/// Text from outside (a provider's error body, model and tool output, log
/// lines) is cut to a documented size before it is stored.
async fn outside_text_is_bounded_when_stored(db: &TestDb) {
    let store = &db.store;
    let huge = "é".repeat(1024 * 1024); // 2 MB, two bytes a character
    let id = store
        .insert_decision(&DecisionRow {
            id: 0,
            run_id: "r".into(),
            attempt: 1,
            at_ms: 1,
            agent_id: None,
            requested: "sim/a".into(),
            candidate: "sim/a".into(),
            provider: "sim".into(),
            model: "a".into(),
            harness: "native".into(),
            decision: "candidate_failed".into(),
            reason: "server_error".into(),
            next: None,
            detail: huge.clone(),
            latency_ms: 1,
        })
        .await
        .unwrap();
    let stored = store.run_decisions("r").await.unwrap();
    assert_eq!(stored[0].id, id);
    assert!(stored[0].detail.len() <= MAX_DETAIL_BYTES);
    assert!(stored[0].detail.starts_with("éé"));
    assert!(stored[0].detail.ends_with(" bytes]"), "a marker says so");

    store
        .append_transcript("r", 1, 1, "tool", &json!({"content": huge.repeat(2)}))
        .await
        .unwrap();
    store
        .append_transcript("r", 2, 1, "assistant", &json!({"text": "small"}))
        .await
        .unwrap();
    let transcript = store.transcript("r").await.unwrap();
    let big = &transcript[0].body;
    assert_eq!(big["truncated"], json!(true));
    assert!(big["bytes"].as_u64().unwrap() > 4 * 1024 * 1024);
    assert!(big.to_string().len() <= MAX_TRANSCRIPT_ENTRY_BYTES);
    assert!(big["text"]
        .as_str()
        .unwrap()
        .starts_with("{\"content\":\"éé"));
    assert_eq!(transcript[1].body, json!({"text": "small"}));

    store
        .append_run_logs(&[engine::runs::RunLogLine {
            run_id: "r".into(),
            at_ms: 1,
            level: "WARN".into(),
            line: huge,
        }])
        .await
        .unwrap();
    let logs = store.run_logs("r").await.unwrap();
    assert!(logs[0].line.len() <= MAX_LOG_LINE_BYTES);
}
