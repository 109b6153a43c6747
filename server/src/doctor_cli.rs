//! `switchyard doctor`: asks the running server to check the Codex harness,
//! the providers and the chains, prints what it found, and exits 1 when a
//! check failed (warnings alone do not fail it), so scripts can gate on it.

use engine::doctor::DoctorReport;
use reqwest::Method;

use crate::config_cli::{call, ServerArgs};

pub async fn run(json: bool, server: ServerArgs) -> anyhow::Result<()> {
    let value = call(&server, Method::POST, "/api/v1/doctor", None).await?;
    let report: DoctorReport = serde_json::from_value(value.clone())?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        crate::out!("{}", render(&report));
    }
    if !report.ok {
        std::process::exit(1);
    }
    Ok(())
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok  "
    } else {
        "FAIL"
    }
}

/// The report as an operator reads it at 3 a.m.: one line per check.
pub fn render(report: &DoctorReport) -> String {
    let mut out = String::new();
    out.push_str("Codex app-server (handshake per agent)\n");
    if report.codex.is_empty() {
        out.push_str("  no agent runs candidates in the Codex harness\n");
    }
    for c in &report.codex {
        match c.handshake_ms {
            Some(ms) => out.push_str(&format!(
                "  {} {:<20} handshake in {ms} ms ({})\n",
                mark(c.ok),
                c.agent,
                c.command
            )),
            None => out.push_str(&format!(
                "  {} {:<20} {}: {} ({})\n",
                mark(c.ok),
                c.agent,
                c.class.as_deref().unwrap_or("?"),
                c.detail.as_deref().unwrap_or(""),
                c.command
            )),
        }
    }
    out.push_str("Providers\n");
    for p in &report.providers {
        let what = match (&p.skipped, &p.class) {
            (Some(why), _) => format!("skipped: {why}"),
            (None, Some(class)) => format!("{class}: {}", p.detail.as_deref().unwrap_or("")),
            (None, None) => format!("answered in {} ms", p.latency_ms.unwrap_or(0)),
        };
        out.push_str(&format!(
            "  {} {:<20} {:<17} {what}\n",
            mark(p.ok),
            p.provider,
            p.kind
        ));
    }
    out.push_str("Chain warnings\n");
    if report.warnings.is_empty() {
        out.push_str("  none\n");
    }
    for a in &report.warnings {
        for w in &a.warnings {
            out.push_str(&format!("  warn {:<20} {w}\n", a.agent));
        }
    }
    out.push_str(if report.ok {
        "doctor: all checks passed\n"
    } else {
        "doctor: some checks failed\n"
    });
    out
}
