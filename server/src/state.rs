//! State shared by every request: cheap-to-clone handles only.

use axum::extract::FromRef;
use engine::fleet::Fleet;
use engine::router::Router;
use engine::scheduler::Scheduler;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub fleet: Fleet,
    pub router: Arc<Router>,
    pub scheduler: Arc<Scheduler>,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
