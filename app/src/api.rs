//! Server functions: the console's calls into the engine. Each is a short
//! adapter; the REST API in the server crate calls the same engine methods.

use engine::config::EffectiveAgent;
use engine::config::FleetView;
use leptos::prelude::*;

use crate::error::AppError;

/// Every agent with its effective settings.
#[server(prefix = "/console/fn", endpoint = "fleet")]
pub async fn get_fleet() -> Result<FleetView, AppError> {
    Ok(ssr::fleet()?.view().await?)
}

/// Sets (or, with `inherit`, clears) one agent's `embeddedHarness` values.
/// Arguments are strings so that a bad value gets the engine's message,
/// naming the field and the allowed values.
#[server(prefix = "/console/fn", endpoint = "set_agent_harness")]
pub async fn set_agent_harness(
    agent: String,
    runtime: Option<String>,
    fallback: Option<String>,
) -> Result<EffectiveAgent, AppError> {
    let patch = engine::config::HarnessPatch { runtime, fallback };
    let author = ssr::author();
    Ok(ssr::fleet()?.set_harness(&agent, &patch, &author).await?)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::AppError;
    use engine::fleet::Fleet;
    use leptos::prelude::use_context;

    /// The fleet service, provided as context by the server for both SSR and
    /// server-function requests.
    pub fn fleet() -> Result<Fleet, AppError> {
        use_context::<Fleet>().ok_or_else(|| AppError {
            code: "internal".into(),
            message: "fleet service missing from context".into(),
            details: Vec::new(),
            current_hash: None,
        })
    }

    /// Who made a change. Until logins exist (DESIGN §8), every console change
    /// is attributed to the console itself.
    pub fn author() -> String {
        "console".to_owned()
    }
}
