//! The console's view of its caller: who is logged in (shown in the nav
//! with a logout button), and [`Can`], which renders controls only for
//! roles that may use them. Hiding is a courtesy: the server refuses the
//! same actions whatever the page shows.

use engine::identity::{Permission, Whoami};
use leptos::prelude::*;

use crate::api::whoami;
use crate::error::AppError;

/// Given to the console by the server when single sign-on is on: the login
/// page shows "Log in with {label}".
#[derive(Debug, Clone)]
pub struct SsoLogin {
    pub label: String,
}

pub type WhoamiResource = Resource<Result<Whoami, AppError>>;

/// Fetched once per page load and shared by every [`Can`].
pub fn provide_whoami() {
    let me: WhoamiResource = Resource::new(|| (), |_| whoami());
    provide_context(me);
}

/// Renders its children only when the caller has `need`.
#[component]
pub fn Can(need: Permission, children: ChildrenFn) -> impl IntoView {
    let me = use_context::<WhoamiResource>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let allowed = match me {
                    Some(me) => me.await.is_ok_and(|w| w.can(need)),
                    None => false,
                };
                if allowed {
                    children.with_value(|c| c()).into_any()
                } else {
                    ().into_any()
                }
            })}
        </Suspense>
    }
}

/// The caller's name and role, and a logout button (a plain form post).
#[component]
pub fn UserMenu() -> impl IntoView {
    let me = use_context::<WhoamiResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me {
                    Some(me) => match me.await {
                        Ok(w) => view! {
                            <div class="user-menu">
                                <span class="user-name" data-testid="whoami">{w.name.clone()}</span>
                                " "
                                <span class="tag" data-testid="role">{w.role.as_str()}</span>
                                <form method="post" action="/auth/logout" class="inline-form">
                                    <button type="submit" class="button">"Log out"</button>
                                </form>
                            </div>
                        }.into_any(),
                        Err(_) => ().into_any(),
                    },
                    None => ().into_any(),
                }
            })}
        </Suspense>
    }
}
