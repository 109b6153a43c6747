//! State shared by every request: cheap-to-clone handles only.

use axum::extract::FromRef;
use engine::fleet::Fleet;
use leptos::config::LeptosOptions;

#[derive(Clone)]
pub struct AppState {
    pub fleet: Fleet,
    pub leptos: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
