//! One module per console page.

mod access;
mod agent;
mod config;
mod drill;
mod jobs;
mod login;
mod overview;
mod providers;
mod runs;

pub use access::AccessPage;
pub use agent::AgentPage;
pub use config::ConfigPage;
pub use drill::DrillPage;
pub use jobs::JobsPage;
pub use login::LoginPage;
pub use overview::Overview;
pub use providers::ProvidersPage;
pub use runs::{RunPageView, RunsPage};

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http_not_found());
        }
    }
    view! {
        <section class="empty">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the overview"</a></p>
        </section>
    }
}

#[cfg(feature = "ssr")]
fn http_not_found() -> http::StatusCode {
    http::StatusCode::NOT_FOUND
}
