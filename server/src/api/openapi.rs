//! `/api/v1/openapi.json`: the API described from the handlers themselves
//! (utoipa), so the document cannot drift from the code.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::{accounts, agents, config, doctor, jobs, providers};
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchyard API", description = "Control plane for fleets of LLM agents. Errors are `{code, message, details[{path, message}], currentHash?}`."),
    paths(
        agents::list, agents::get_one, agents::update_harness, agents::drill_options, agents::drill,
        config::current, config::replace, config::validate, config::revisions, config::revision,
        config::diff, config::rollback, config::import, config::export,
        providers::list, providers::test_call, providers::check_harness, providers::decisions, providers::stream,
        jobs::list, jobs::run_now, jobs::enable, jobs::disable, jobs::runs, jobs::run, jobs::cancel,
        doctor::run,
        accounts::users, accounts::add_user, accounts::update_user, accounts::tokens,
        accounts::create_token, accounts::revoke_token, accounts::audit,
        crate::auth::session::whoami,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []), ("session" = [])),
    tags((name = "accounts", description = "users, API tokens and the audit log (admins)"),
         (name = "auth", description = "who is calling"),
         (name = "agents", description = "effective agent settings, harness switches and failure drills"),
         (name = "config", description = "config revisions, validation, diff, rollback, import and export"),
         (name = "doctor", description = "checks of the Codex harness, providers and chains"),
         (name = "jobs", description = "cron jobs, force-run, run history, run detail and cancel"),
         (name = "providers", description = "provider health, cooldowns, circuits, test calls and routing decisions"))
)]
pub struct ApiDoc;

/// Every route needs a caller: an API token (`Authorization: Bearer
/// sy_…`) or the console's session cookie.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
