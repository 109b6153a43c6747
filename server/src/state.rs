//! State shared by every request: cheap-to-clone handles only.

use axum::extract::FromRef;
use engine::service::Services;
use leptos::config::LeptosOptions;
use std::sync::Arc;

use crate::auth::guard::Origins;
use crate::auth::oidc::Oidc;

#[derive(Clone)]
pub struct AppState {
    /// The engine's one door: every REST handler and server function calls
    /// these methods with the caller's actor.
    pub services: Services,
    pub leptos: LeptosOptions,
    /// The names this server answers to, for the origin guard.
    pub origins: Arc<Origins>,
    /// Session cookies carry `Secure` (served over TLS, or behind a proxy
    /// that terminates it).
    pub secure_cookies: bool,
    pub session_max_age_s: i64,
    /// Single sign-on, when `--oidc-issuer` and friends are given.
    pub oidc: Option<Arc<Oidc>>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl FromRef<AppState> for Arc<Origins> {
    fn from_ref(state: &AppState) -> Self {
        state.origins.clone()
    }
}
