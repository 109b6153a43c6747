//! Config as versioned data through the fleet service, on SQLite and PostgreSQL.

mod common;

use common::TestDb;
use engine::clock::ManualClock;
use engine::fleet::Fleet;
use engine::{sim, Error, ErrorKind};
use serde_json::json;
use std::sync::Arc;

async fn seeded(db: &TestDb) -> Fleet {
    let fleet = Fleet::new(db.store.clone(), Arc::new(ManualClock::new(1_000)));
    fleet
        .seed_if_empty(&sim::demo::fleet_config(), "seed")
        .await
        .unwrap();
    fleet
}

on_both_backends!(
    put_with_the_current_hash_stores_a_new_revision,
    put_with_a_stale_hash_is_a_conflict_naming_the_current_one,
    invalid_config_is_refused_with_every_problem_and_nothing_changes,
    rollback_restores_an_earlier_config_as_a_new_revision,
    racing_puts_with_the_same_base_make_one_revision_and_one_conflict,
);

async fn put_with_the_current_hash_stores_a_new_revision(db: &TestDb) {
    let fleet = seeded(db).await;
    let doc = fleet.document().await.unwrap();
    let mut body = doc.config.clone();
    body["agents"]["entries"]["builder"]["embeddedHarness"] = json!({"fallback": "none"});
    let base = doc.revision.unwrap();
    let committed = fleet
        .put_config(&base.hash, &body, "alice", "builder strict")
        .await
        .unwrap();
    assert_eq!(committed.revision.parent, Some(base.id));
    assert_eq!(committed.revision.author, "alice");
    // In effect at once: the next read sees it.
    assert_eq!(
        fleet
            .agent("builder")
            .await
            .unwrap()
            .agent
            .fallback
            .value
            .to_string(),
        "none"
    );
    let diff = fleet.diff(base.id, committed.revision.id).await.unwrap();
    assert_eq!(diff.changes.len(), 1);
    assert_eq!(
        diff.changes[0].path,
        "agents.entries.builder.embeddedHarness"
    );
}

async fn put_with_a_stale_hash_is_a_conflict_naming_the_current_one(db: &TestDb) {
    let fleet = seeded(db).await;
    let doc = fleet.document().await.unwrap();
    let stale = doc.revision.unwrap().hash;
    fleet
        .put_config(&stale, &doc.config, "alice", "first")
        .await
        .unwrap();
    let current = fleet.document().await.unwrap().revision.unwrap();
    let err = fleet
        .put_config(&stale, &doc.config, "bob", "second")
        .await
        .unwrap_err();
    match err {
        Error::Conflict { current_hash } => assert_eq!(current_hash, current.hash),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(fleet.revisions(10).await.unwrap().len(), 2);
}

async fn invalid_config_is_refused_with_every_problem_and_nothing_changes(db: &TestDb) {
    let fleet = seeded(db).await;
    let doc = fleet.document().await.unwrap();
    let mut body = doc.config.clone();
    body["agents"]["defaults"]["model"]["fallbacks"] =
        json!(["nowhere/x", "openrouter/not-listed"]);
    body["cron"] = json!({"jobs": [{"id": "j", "agentId": "ghost", "message": "m", "schedule": {"kind": "cron", "expr": "* * *"}}]});
    let err = fleet
        .put_config(&doc.revision.as_ref().unwrap().hash, &body, "alice", "bad")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "agents.defaults.model.fallbacks[0]",
            "agents.defaults.model.fallbacks[1]",
            "cron.jobs[0].agentId",
            "cron.jobs[0].schedule.expr"
        ]
    );
    assert_eq!(fleet.document().await.unwrap(), doc);
}

async fn rollback_restores_an_earlier_config_as_a_new_revision(db: &TestDb) {
    let fleet = seeded(db).await;
    let first = fleet.document().await.unwrap();
    let first_rev = first.revision.clone().unwrap();
    fleet
        .set_harness(
            "release-engineer",
            &engine::config::HarnessPatch {
                fallback: Some("none".into()),
                runtime: None,
            },
            "op",
        )
        .await
        .unwrap();
    let committed = fleet.rollback(first_rev.id, None, "op").await.unwrap();
    assert_eq!(committed.revision.id.0, 3);
    assert_eq!(
        committed.revision.message,
        format!("rollback to revision #{}", first_rev.id)
    );
    let now = fleet.document().await.unwrap();
    assert_eq!(now.config, first.config);
    assert_ne!(now.revision.unwrap().hash, first_rev.hash);
    // A rollback based on a stale head is refused.
    let err = fleet
        .rollback(first_rev.id, Some(&first_rev.hash), "op")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

async fn racing_puts_with_the_same_base_make_one_revision_and_one_conflict(db: &TestDb) {
    let fleet = seeded(db).await;
    let doc = fleet.document().await.unwrap();
    let hash = doc.revision.unwrap().hash;
    let (a, b) = tokio::join!(
        fleet.put_config(&hash, &doc.config, "alice", "a"),
        fleet.put_config(&hash, &doc.config, "bob", "b")
    );
    assert_eq!(
        [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "{a:?} {b:?}"
    );
    let loser = if a.is_ok() { b } else { a };
    assert_eq!(loser.unwrap_err().kind(), ErrorKind::Conflict);
    assert_eq!(fleet.revisions(10).await.unwrap().len(), 2);
}

mod chain {
    use super::*;

    on_both_backends!(reordering_a_chain_is_stored_and_a_stale_base_conflicts);

    async fn reordering_a_chain_is_stored_and_a_stale_base_conflicts(db: &TestDb) {
        let fleet = seeded(db).await;
        let base = fleet.document().await.unwrap().revision.unwrap().hash;
        let chain: Vec<String> = [
            "ollama-cloud/glm-5.1",
            "openai-codex/gpt-5.3-codex-spark",
            "openrouter/deepseek/deepseek-v3.2",
        ]
        .map(String::from)
        .to_vec();
        let view = fleet
            .set_chain("builder", &base, &chain, "op", "")
            .await
            .unwrap();
        assert_eq!(
            view.agent.primary.unwrap().value.to_string(),
            "ollama-cloud/glm-5.1"
        );
        assert_eq!(view.agent.fallbacks.value.len(), 2);
        let head = fleet.document().await.unwrap().revision.unwrap();
        assert!(
            head.message
                .starts_with("builder: model chain ollama-cloud/glm-5.1 → "),
            "{}",
            head.message
        );

        let err = fleet
            .set_chain("builder", &base, &chain, "op", "")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        let err = fleet
            .set_chain(
                "builder",
                &head.hash,
                &["nope".into(), "ghost/x".into()],
                "op",
                "",
            )
            .await
            .unwrap_err();
        let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["agents.entries.builder.model.primary"]);
        let err = fleet
            .set_chain("builder", &head.hash, &["ghost/x".into()], "op", "")
            .await
            .unwrap_err();
        assert_eq!(
            err.problems()[0].path,
            "agents.entries.builder.model.primary"
        );
        assert_eq!(fleet.document().await.unwrap().revision.unwrap(), head);
    }
}
