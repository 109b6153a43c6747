//! The login page: a plain form that posts to `/auth/login` (works without
//! JavaScript); a good password sends the browser back to `next`. With
//! single sign-on on, a "Log in with …" link starts it at
//! `/auth/oidc/login`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.with(|q| q.get("error"));
    let next = move || query.with(|q| q.get("next")).unwrap_or_else(|| "/".into());
    let logged_out = move || query.with(|q| q.get("loggedOut")).is_some();
    // The server provides this context when single sign-on is on; the
    // resource carries it into the hydrated page (the browser has no such
    // context of its own).
    let sso = use_context::<crate::auth::SsoLogin>().map(|s| s.label);
    let sso = Resource::new(
        || (),
        move |_| {
            let sso = sso.clone();
            async move { sso }
        },
    );
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
                <input type="hidden" name="next" value=next/>
                <label for="login-name">"User name"</label>
                <input id="login-name" name="name" autocomplete="username" required=true/>
                <label for="login-password">"Password"</label>
                <input id="login-password" name="password" type="password"
                    autocomplete="current-password" required=true/>
                <button type="submit" class="button primary">"Log in"</button>
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    sso.await.map(|label| view! {
                        <p class="sso">
                            <a class="button" data-testid="sso-login"
                                href=move || format!("/auth/oidc/login?next={}", encode(&next()))>
                                "Log in with " {label}
                            </a>
                        </p>
                    })
                })}
            </Suspense>
            <p class="hint">"On the first start, the server prints the " <code>"admin"</code>
                " password once (or takes it from " <code>"SWITCHYARD_ADMIN_PASSWORD"</code> "). "
                "Manage users with " <code>"switchyard users"</code> "."</p>
        </section>
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
