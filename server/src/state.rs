//! State shared by every request: cheap-to-clone handles only.

use axum::extract::FromRef;
use engine::drill::Drills;
use engine::fleet::Fleet;
use engine::harness::codex::CodexAppServer;
use engine::router::Router;
use engine::scheduler::Scheduler;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub fleet: Fleet,
    pub router: Arc<Router>,
    pub scheduler: Arc<Scheduler>,
    /// The Codex harness the router uses, for checks (`doctor`) and drills.
    pub codex: Arc<CodexAppServer>,
    /// Failure drills against `sim` in stores of their own (REST and console).
    pub drills: Drills,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
