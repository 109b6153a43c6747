//! `switchyard sim …`: the fault-injection toolkit of DESIGN §9 as
//! standalone processes, for trying a fallback chain by hand or from scripts.

use anyhow::Context;
use clap::Subcommand;
use engine::sim::codex::Behaviour;
use engine::sim::provider::{Script, SimProvider};
use std::net::SocketAddr;

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// An OpenAI-compatible provider on loopback whose models follow
    /// scripts. Models not given here run the script their name spells
    /// (`rate_limit(30)`, `server_error*2, ok`), so any script is one request
    /// away. Scripts can also be changed while it runs:
    /// `PUT /sim/scripts/<model>` with the script as the body.
    Provider {
        /// Address to listen on; port 0 picks one (printed as `listening on …`).
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: SocketAddr,
        /// `MODEL=SCRIPT`, repeatable, e.g. `--model glm-5.1='rate_limit(60), ok'`.
        #[arg(long = "model", value_name = "MODEL=SCRIPT", value_parser = parse_model_script)]
        models: Vec<(String, Script)>,
        /// Require `Authorization: Bearer <key>`; requests without it get a 401.
        #[arg(long, env = "SWITCHYARD_SIM_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
    /// A stand-in for `codex app-server` on stdio (DESIGN §4, §9): same
    /// protocol, scripted behaviour. Per model, separated by `;`:
    /// `gpt-5.3-codex-spark=rate_limit(30); gpt-5.4=auth; ok`. Turn behaviours:
    /// ok, reply(text), rate_limit(s), usage_limit, auth, server_error,
    /// overloaded, context_overflow, fail, stream_break_after(n), stall,
    /// hang, crash, unknown_provider. Whole-process behaviours: crash (exit 1 at start),
    /// crash_once (only the first start per CODEX_HOME), hang_handshake.
    CodexAppServer {
        #[arg(long, default_value = "ok", value_parser = parse_behaviour)]
        behave: Behaviour,
        /// `key=value` config overrides, as the real binary takes them;
        /// `-c model_provider=<unknown>` exits 1 like it does.
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
}

fn parse_behaviour(text: &str) -> Result<Behaviour, String> {
    text.parse()
}

fn parse_model_script(text: &str) -> Result<(String, Script), String> {
    let (model, script) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected MODEL=SCRIPT, e.g. glm-5.1=ok"))?;
    let script = script
        .parse::<Script>()
        .map_err(|e| format!("script of `{model}`: {e}"))?;
    Ok((model.trim().to_owned(), script))
}

pub async fn run(command: SimCommand) -> anyhow::Result<()> {
    match command {
        SimCommand::Provider {
            bind,
            models,
            api_key,
        } => {
            let sim = SimProvider::start(bind)
                .await
                .with_context(|| format!("binding {bind}"))?;
            for (model, script) in models {
                sim.set_script(&model, script);
            }
            sim.require_api_key(api_key);
            crate::outln!("listening on http://{}", sim.addr());
            crate::outln!("base URL {}", sim.base_url());
            for (model, script) in sim.scripts() {
                crate::outln!("model {model}: {script}");
            }
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            sim.shutdown().await;
            Ok(())
        }
        SimCommand::CodexAppServer { behave, overrides } => {
            let code = engine::sim::codex::serve(behave, &overrides).await;
            std::process::exit(code);
        }
    }
}
