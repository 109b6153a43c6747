//! The sim's Ollama and Anthropic wires against the real clients: the
//! official `anthropic` Python SDK and the `ollama` library
//! (`engine/tests/sdk/conformance.py`, versions pinned in
//! `engine/tests/sdk/requirements.txt`, installed by `./setup` into
//! `.cache/sdk-venv`). If those clients accept what the sim sends — text,
//! tool calls, streams, errors with their classes and headers — the sim
//! speaks the wire, and so the client tests against it mean something.
//!
//! Without the virtualenv the test says so and passes, except under
//! `CI=true`, where a skip is a failure.

use engine::sim::provider::SimProvider;
use std::path::PathBuf;
use std::time::Duration;

const KEY: &str = "sk-sim-conformance";

#[tokio::test]
async fn official_clients_accept_the_sims_wires() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("../.cache/sdk-venv/bin/python");
    if !python.exists() {
        let why = format!("{} is missing (run ./setup)", python.display());
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the SDK conformance check: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let sim = SimProvider::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    sim.require_api_key(Some(KEY.into()));
    sim.set_script("listed", "ok".parse().unwrap());
    let base = sim.base_url();
    let server_root = base.trim_end_matches("/v1");
    let run = tokio::process::Command::new(&python)
        .arg(root.join("tests/sdk/conformance.py"))
        .args([server_root, KEY])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the SDK checks finish within 2 minutes")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    sim.shutdown().await;
}
