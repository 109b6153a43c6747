//! Switchyard's web console. Pages render on the server (usable without
//! JavaScript) and hydrate in the browser. Server functions in [`api`] are thin
//! adapters over the same engine methods the REST API calls.

#![recursion_limit = "256"]

pub mod api;
pub mod auth;
mod components;
pub mod error;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    ParamSegment, SsrMode, StaticSegment,
};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    auth::provide_whoami();
    view! {
        <Stylesheet id="leptos" href="/pkg/switchyard.css"/>
        <Title text="Switchyard"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"⇄"</span>
                    "Switchyard"
                </A>
                <nav class="nav">
                    <A href="/">"Overview"</A>
                    <A href="/jobs">"Jobs"</A>
                    <A href="/runs">"Runs"</A>
                    <A href="/providers">"Providers"</A>
                    <A href="/drill">"Drill"</A>
                    <A href="/config">"Config"</A>
                    <auth::Can need=engine::identity::Permission::Administer>
                        <A href="/access">"Access"</A>
                    </auth::Can>
                </nav>
                <auth::UserMenu/>
            </header>
            <main class="page">
                // Async: the whole page, data included, is in the first
                // response, so it works with JavaScript disabled.
                <Routes fallback=|| view! { <pages::NotFound/> }>
                    <Route path=StaticSegment("") view=pages::Overview ssr=SsrMode::Async/>
                    <Route path=StaticSegment("config") view=pages::ConfigPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("providers") view=pages::ProvidersPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("drill") view=pages::DrillPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("jobs") view=pages::JobsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("runs") view=pages::RunsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("runs"), ParamSegment("id")) view=pages::RunPageView ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("agents"), ParamSegment("id")) view=pages::AgentPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view=pages::LoginPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("access") view=pages::AccessPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
