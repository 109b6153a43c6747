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
        /// Offline, the same policy flags as `serve` (and its variables).
        #[command(flatten)]
        policy: crate::cli::PolicyArgs,
    },
    /// Print the current config: Switchyard JSON, or OpenClaw files.
    Export {
        /// `switchyard` or `openclaw`.
        #[arg(long = "to", default_value = "switchyard")]
        format: String,
        /// OpenClaw roster shape: `older` (agents.list[]) or `newer` (agents.entries).
        #[arg(long, default_value = "older")]
        shape: String,
        /// With `--to openclaw`: write openclaw.json (and jobs.json) into this directory.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Import a config from another tool (stored as a new revision).
    Import {
        /// Only `openclaw` so far.
        #[arg(long)]
        from: String,
        /// The `openclaw.json` file (JSON5).
        file: PathBuf,
        /// Directory with cron `jobs.json` and `jobs-state.json`.
        #[arg(long)]
        cron_dir: Option<PathBuf>,
        /// Print the report and the diff; store nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what changed between two revisions.
    Diff { from: i64, to: i64 },
    /// Make an earlier revision current again (stored as a new revision).
    Rollback { revision: i64 },
}

pub async fn run(command: ConfigCommand, server: ServerArgs) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Validate {
            file,
            remote,
            policy,
        } => {
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
                engine::config::validate::validate(
                    &config,
                    &engine::config::validate::ProcessEnv,
                    &policy.policy()?,
                )
            };
            print_report(&report);
            if !report.is_valid() {
                std::process::exit(1);
            }
            Ok(())
        }
        ConfigCommand::Export {
            format,
            shape,
            out_dir,
        } => {
            let path = format!("/api/v1/config/export?format={format}&shape={shape}");
            let out = call(&server, reqwest::Method::GET, &path, None).await?;
            if format != "openclaw" {
                crate::outln!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(());
            }
            for w in out["warnings"].as_array().into_iter().flatten() {
                crate::errln!(
                    "warning {}: {}",
                    w["path"].as_str().unwrap_or(""),
                    w["message"].as_str().unwrap_or("")
                );
            }
            match out_dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)?;
                    std::fs::write(
                        dir.join("openclaw.json"),
                        serde_json::to_string_pretty(&out["openclaw"])?,
                    )?;
                    if !out["jobs"].is_null() {
                        std::fs::write(
                            dir.join("jobs.json"),
                            serde_json::to_string_pretty(&out["jobs"])?,
                        )?;
                    }
                    crate::outln!("wrote {}", dir.display());
                }
                None => crate::outln!("{}", serde_json::to_string_pretty(&out["openclaw"])?),
            }
            Ok(())
        }
        ConfigCommand::Import {
            from,
            file,
            cron_dir,
            dry_run,
        } => {
            let read = |p: PathBuf| {
                std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
            };
            let openclaw = read(file)?;
            let (jobs, jobs_state) = match &cron_dir {
                Some(dir) => (
                    Some(read(dir.join("jobs.json"))?),
                    read(dir.join("jobs-state.json")).ok(),
                ),
                None => (None, None),
            };
            let body = serde_json::json!({"from": from, "openclaw": openclaw, "jobs": jobs, "jobsState": jobs_state, "dryRun": dry_run});
            let out = call(
                &server,
                reqwest::Method::POST,
                "/api/v1/config/import",
                Some(&body),
            )
            .await?;
            print_import(&out, dry_run);
            let errors = out["validation"]["errors"].as_array().map_or(0, Vec::len);
            if dry_run && errors > 0 {
                // A dry run is a check: a script must see that the real
                // import would be refused.
                anyhow::bail!("dry run: {errors} error(s); the import would be refused");
            }
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
            crate::out!("{}", diff["unified"].as_str().unwrap_or_default());
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
            crate::outln!(
                "rolled back to revision #{revision}: now revision #{} ({})",
                done["revision"]["id"],
                done["revision"]["hash"].as_str().unwrap_or_default()
            );
            Ok(())
        }
    }
}

fn print_import(out: &Value, dry_run: bool) {
    let report = &out["import"];
    crate::outln!("shape: {}", report["shape"].as_str().unwrap_or("?"));
    let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    for p in list("problems") {
        crate::outln!(
            "problem {}: {}",
            p["path"].as_str().unwrap_or(""),
            p["message"].as_str().unwrap_or("")
        );
    }
    for p in list("notes") {
        crate::outln!(
            "note    {}: {}",
            p["path"].as_str().unwrap_or(""),
            p["message"].as_str().unwrap_or("")
        );
    }
    for k in list("unknownKeys") {
        crate::outln!("kept    {} (unknown key)", k.as_str().unwrap_or(""));
    }
    for s in list("jobState") {
        crate::outln!(
            "state   job {}: consecutiveErrors={} runningAtMs={} lastError={}",
            s["jobId"].as_str().unwrap_or(""),
            s["consecutiveErrors"],
            s["runningAtMs"],
            s["lastError"].as_str().unwrap_or("-")
        );
    }
    if let Ok(report) =
        serde_json::from_value::<engine::config::validate::Report>(out["validation"].clone())
    {
        print_report(&report);
    }
    crate::out!("{}", out["diff"]["unified"].as_str().unwrap_or_default());
    match out["revision"]["id"].as_i64() {
        Some(id) => crate::outln!("imported as revision #{id}"),
        None if dry_run => crate::outln!("dry run: nothing stored"),
        None => {}
    }
}

fn print_report(report: &engine::config::validate::Report) {
    for p in &report.errors {
        crate::outln!("error   {p}");
    }
    for p in &report.warnings {
        crate::outln!("warning {p}");
    }
    crate::outln!(
        "{} error(s), {} warning(s)",
        report.errors.len(),
        report.warnings.len()
    );
}

/// One API call; a non-2xx answer becomes an error with the server's message
/// and every problem it listed.
pub(crate) async fn call(
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
