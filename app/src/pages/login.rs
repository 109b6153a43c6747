//! The login page: a plain form that posts to `/auth/login` (works without
//! JavaScript); a good password sends the browser back to `next`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.with(|q| q.get("error"));
    let next = move || query.with(|q| q.get("next")).unwrap_or_else(|| "/".into());
    let logged_out = move || query.with(|q| q.get("loggedOut")).is_some();
    view! {
        <section class="login card">
            <h1>"Log in to Switchyard"</h1>
            {move || logged_out().then(|| view! {
                <p class="banner" role="status">"You are logged out."</p>
            })}
            {move || error().map(|e| view! {
                <div class="banner banner-error" role="alert"><strong>{e}</strong></div>
            })}
            <form method="post" action="/auth/login" class="login-form">
                <input type="hidden" name="next" prop:value=next/>
                <label for="login-name">"User name"</label>
                <input id="login-name" name="name" autocomplete="username" required=true/>
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password"
                    autocomplete="current-password" required=true/>
                <button type="submit" class="button primary">"Log in"</button>
            </form>
            <p class="hint">"On the first start, the server prints the " <code>"admin"</code>
                " password once (or takes it from " <code>"SWITCHYARD_ADMIN_PASSWORD"</code> "). "
                "Manage users with " <code>"switchyard users"</code> "."</p>
        </section>
    }
}
