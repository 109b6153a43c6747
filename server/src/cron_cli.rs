//! `switchyard cron …`: jobs and runs over the REST API (DESIGN §10).

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use crate::config_cli::{call, ServerArgs};

#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Every job: schedule, next fire, state.
    List {
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run a job now; prints `{"ok":true,"enqueued":true,"runId":…}` at once.
    Run {
        id: String,
    },
    /// A job's run history, newest first (as JSON lines).
    Runs {
        #[arg(long)]
        id: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    Enable {
        id: String,
    },
    Disable {
        id: String,
    },
    /// Cancel a queued or running run.
    Cancel {
        run_id: String,
    },
}

pub async fn run(command: CronCommand, server: ServerArgs) -> anyhow::Result<()> {
    match command {
        CronCommand::List { json } => {
            let jobs = call(&server, Method::GET, "/api/v1/jobs", None).await?;
            if json {
                crate::outln!("{}", serde_json::to_string_pretty(&jobs)?);
                return Ok(());
            }
            crate::outln!(
                "{:<28} {:<18} {:<8} {:<26} {:<9} {:>6}  schedule",
                "job",
                "agent",
                "enabled",
                "next fire",
                "last",
                "errors"
            );
            for j in jobs.as_array().into_iter().flatten() {
                let next = j["nextFires"][0]
                    .as_i64()
                    .map(engine::router::format_ms)
                    .unwrap_or_else(|| "-".into());
                let last = j["state"]["lastStatus"].as_str().unwrap_or("-");
                let running = if j["state"]["runningAtMs"].is_i64() {
                    " (running)"
                } else {
                    ""
                };
                crate::outln!(
                    "{:<28} {:<18} {:<8} {:<26} {:<9} {:>6}  {}{running}",
                    j["id"].as_str().unwrap_or(""),
                    j["agentId"].as_str().unwrap_or(""),
                    j["enabled"],
                    next,
                    last,
                    j["state"]["consecutiveErrors"],
                    j["schedule"].as_str().unwrap_or(""),
                );
            }
        }
        CronCommand::Run { id } => {
            let out = call(
                &server,
                Method::POST,
                &format!("/api/v1/jobs/{}/run", engine::runs::encode_segment(&id)),
                None,
            )
            .await?;
            crate::outln!("{}", serde_json::to_string(&out)?);
        }
        CronCommand::Runs { id, limit } => {
            let path = format!(
                "/api/v1/runs?job={}&limit={limit}",
                engine::runs::encode_segment(&id)
            );
            let page = call(&server, Method::GET, &path, None).await?;
            for r in page["runs"].as_array().into_iter().flatten() {
                // The seed's history fields, plus the run's id and class.
                let line = serde_json::json!({
                    "runId": r["runId"], "status": r["status"], "error": r["error"],
                    "errorClass": r["errorClass"], "durationMs": r["durationMs"],
                    "model": r["model"], "fallbackUsed": r["fallbackUsed"],
                });
                crate::outln!("{line}");
            }
            let state = call(&server, Method::GET, "/api/v1/jobs", None).await?;
            if let Some(job) = state
                .as_array()
                .into_iter()
                .flatten()
                .find(|j| j["id"] == Value::String(id.clone()))
            {
                crate::outln!(
                    "{}",
                    serde_json::json!({"consecutiveErrors": job["state"]["consecutiveErrors"]})
                );
            }
        }
        CronCommand::Enable { id } => {
            let out = call(
                &server,
                Method::POST,
                &format!("/api/v1/jobs/{}/enable", engine::runs::encode_segment(&id)),
                None,
            )
            .await?;
            crate::outln!("{}", serde_json::to_string(&out)?);
        }
        CronCommand::Disable { id } => {
            let out = call(
                &server,
                Method::POST,
                &format!("/api/v1/jobs/{}/disable", engine::runs::encode_segment(&id)),
                None,
            )
            .await?;
            crate::outln!("{}", serde_json::to_string(&out)?);
        }
        CronCommand::Cancel { run_id } => {
            let out = call(
                &server,
                Method::POST,
                &format!(
                    "/api/v1/runs/{}/cancel",
                    engine::runs::encode_segment(&run_id)
                ),
                None,
            )
            .await?;
            crate::outln!("{}", serde_json::to_string(&out)?);
        }
    }
    Ok(())
}
