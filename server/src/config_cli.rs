//! `switchyard config …`: the config verbs of the CLI. `validate FILE` works
//! offline; the others talk to a running server over the REST API, so the
//! CLI, the console and scripts share one code path and one set of rules.

use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Base URL of a running switchyard.
    #[arg(
        long,
        env = "SWITCHYARD_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub server: String,
    /// Bearer token for the API (sent when set).
    #[arg(long, env = "SWITCHYARD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file (JSON or JSON5) without a server; exit 1 on errors.
    Validate {
        file: PathBuf,
        /// Ask the running server instead (its environment decides secret warnings).
        #[arg(long)]
        remote: bool,
    },
    /// Print the current config as JSON.
    Export,
    /// Show what changed between two revisions.
    Diff { from: i64, to: i64 },
    /// Make an earlier revision current again (stored as a new revision).
    Rollback { revision: i64 },
}

pub async fn run(command: ConfigCommand, server: ServerArgs) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Validate { file, remote } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let body = engine::config::parse_text(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let report = if remote {
                serde_json::from_value(
                    call(
                        &server,
                        reqwest::Method::POST,
                        "/api/v1/config/validate",
                        Some(&body),
                    )
                    .await?,
                )?
            } else {
                let config = engine::config::Config::from_json(&body)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                engine::config::validate::validate(&config, &engine::config::validate::ProcessEnv)
            };
            print_report(&report);
            if !report.is_valid() {
                std::process::exit(1);
            }
            Ok(())
        }
        ConfigCommand::Export => {
            let doc = call(&server, reqwest::Method::GET, "/api/v1/config", None).await?;
            println!("{}", serde_json::to_string_pretty(&doc["config"])?);
            Ok(())
        }
        ConfigCommand::Diff { from, to } => {
            let diff = call(
                &server,
                reqwest::Method::GET,
                &format!("/api/v1/config/diff?from={from}&to={to}"),
                None,
            )
            .await?;
            print!("{}", diff["unified"].as_str().unwrap_or_default());
            Ok(())
        }
        ConfigCommand::Rollback { revision } => {
            let done = call(
                &server,
                reqwest::Method::POST,
                &format!("/api/v1/config/rollback/{revision}"),
                None,
            )
            .await?;
            println!(
                "rolled back to revision #{revision}: now revision #{} ({})",
                done["revision"]["id"],
                done["revision"]["hash"].as_str().unwrap_or_default()
            );
            Ok(())
        }
    }
}

fn print_report(report: &engine::config::validate::Report) {
    for p in &report.errors {
        println!("error   {p}");
    }
    for p in &report.warnings {
        println!("warning {p}");
    }
    println!(
        "{} error(s), {} warning(s)",
        report.errors.len(),
        report.warnings.len()
    );
}

/// One API call; a non-2xx answer becomes an error with the server's message
/// and every problem it listed.
async fn call(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", server.server.trim_end_matches('/'));
    let mut req = reqwest::Client::new().request(method, &url);
    if let Some(token) = &server.token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.with_context(|| {
        format!("calling {url} (is the server running? set --server or SWITCHYARD_URL)")
    })?;
    let status = res.status();
    let value: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let mut msg = format!(
            "{status}: {}",
            value["message"].as_str().unwrap_or("request failed")
        );
        for p in value["details"].as_array().into_iter().flatten() {
            msg.push_str(&format!(
                "\n  {}: {}",
                p["path"].as_str().unwrap_or(""),
                p["message"].as_str().unwrap_or("")
            ));
        }
        bail!(msg);
    }
    Ok(value)
}
