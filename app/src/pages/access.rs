//! Access (admins): users, API tokens (created with the secret shown once,
//! revoked with one click), and the audit log with filters.

use engine::identity::{AuditEvent, NewToken, TokenInfo, UserInfo};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{get_access, get_audit, AddUser, CreateToken, RevokeToken, SetUserDisabled};
use crate::components::{format_utc, ErrorBanner};

#[component]
pub fn AccessPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let add_user = ServerAction::<AddUser>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                revoke.version().get(),
                add_user.version().get(),
                disable.version().get(),
            )
        },
        |_| get_access(),
    );
    let query = use_query_map();
    let audit = Resource::new(
        move || {
            query.with(|q| {
                (
                    q.get("actor"),
                    q.get("action"),
                    q.get("result"),
                    q.get("before").and_then(|b| b.parse::<i64>().ok()),
                )
            })
        },
        |(actor, action, result, before)| get_audit(actor, action, result, before),
    );
    view! {
        <section class="page-head">
            <div>
                <h1>"Access"</h1>
                <p class="lede">"Who may call this server, and what was done. Viewers read everything "
                    "but secrets and transcripts; operators also run, cancel and flip settings; "
                    "admins also manage users, tokens and the raw config."</p>
            </div>
        </section>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! {
                        <Tokens tokens=d.tokens create revoke/>
                        <Users users=d.users add_user disable/>
                    }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Transition>
        <section class="card">
            <h2 class="pad">"Audit log"</h2>
            <form method="get" action="/access" class="filters">
                <label>"Actor " <input name="actor" placeholder="user:alice"
                    prop:value=move || query.with(|q| q.get("actor")).unwrap_or_default()/></label>
                <label>"Action " <input name="action" placeholder="config"
                    prop:value=move || query.with(|q| q.get("action")).unwrap_or_default()/></label>
                <label>"Result " <input name="result" placeholder="forbidden"
                    prop:value=move || query.with(|q| q.get("result")).unwrap_or_default()/></label>
                <button type="submit" class="button">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match audit.await {
                        Ok(events) => view! { <AuditTable events/> }.into_any(),
                        Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Tokens(
    tokens: Vec<TokenInfo>,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2 class="pad">"API tokens"</h2>
            {move || match create.value().get() {
                Some(Ok(NewToken { token, secret })) => view! {
                    <div class="banner" role="status" data-testid="new-token">
                        <p>"Token " <code>{token.name}</code> " created. Copy it now: it is not shown again."</p>
                        <code class="secret">{secret}</code>
                    </div>
                }.into_any(),
                Some(Err(e)) => view! { <ErrorBanner error=e/> }.into_any(),
                None => ().into_any(),
            }}
            <ActionForm action=create attr:class="filters">
                <label>"Name " <input name="name" required=true/></label>
                <label>"Role "
                    <select name="role">
                        <option value="viewer">"viewer"</option>
                        <option value="operator">"operator"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <label>"Agents " <input name="agents" placeholder="all"/></label>
                <label><input type="checkbox" name="read_only" value="on"/>" read-only"</label>
                <label>"Expires in days " <input name="expires_in_days" inputmode="numeric" placeholder="never"/></label>
                <button type="submit" class="button primary">"Create token"</button>
            </ActionForm>
            <div class="table-wrap"><table class="fleet" data-testid="tokens">
                <thead><tr><th>"Name"</th><th>"Role"</th><th>"Scope"</th><th>"Created"</th>
                    <th>"Expires"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                <tbody>
                    {tokens.into_iter().map(|t| {
                        let scope = match (&t.scope.agents, t.scope.read_only) {
                            (None, false) => "every agent".to_owned(),
                            (None, true) => "every agent, read-only".to_owned(),
                            (Some(a), ro) => format!("{}{}", a.join(", "), if ro { ", read-only" } else { "" }),
                        };
                        let revoked = t.revoked_at_ms.is_some();
                        let id = t.id.clone();
                        view! {
                            <tr>
                                <td><code>{t.name.clone()}</code></td>
                                <td>{t.role.as_str()}</td>
                                <td>{scope}</td>
                                <td>{format_utc(t.created_at_ms)} " by " {t.created_by.clone()}</td>
                                <td>{t.expires_at_ms.map_or("never".to_owned(), format_utc)}</td>
                                <td>{t.last_used_ms.map_or("never".to_owned(), format_utc)}</td>
                                <td>{if revoked { "revoked" } else { "active" }}</td>
                                <td>{(!revoked).then(|| view! {
                                    <ActionForm action=revoke attr:class="inline-form">
                                        <input type="hidden" name="id" value=id.clone()/>
                                        <button type="submit" class="button">"Revoke"</button>
                                    </ActionForm>
                                })}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        </section>
    }
}

#[component]
fn Users(
    users: Vec<UserInfo>,
    add_user: ServerAction<AddUser>,
    disable: ServerAction<SetUserDisabled>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2 class="pad">"Users"</h2>
            {move || match add_user.value().get() {
                Some(Err(e)) => view! { <ErrorBanner error=e/> }.into_any(),
                _ => ().into_any(),
            }}
            <ActionForm action=add_user attr:class="filters">
                <label>"Name " <input name="name" required=true autocomplete="off"/></label>
                <label>"Role "
                    <select name="role">
                        <option value="viewer">"viewer"</option>
                        <option value="operator">"operator"</option>
                        <option value="admin">"admin"</option>
                    </select>
                </label>
                <label>"Password " <input name="password" type="password" required=true autocomplete="new-password"/></label>
                <button type="submit" class="button primary">"Add user"</button>
            </ActionForm>
            <div class="table-wrap"><table class="fleet">
                <thead><tr><th>"Name"</th><th>"Role"</th><th>"Logs in with"</th><th>"Created"</th><th>"State"</th><th></th></tr></thead>
                <tbody>
                    {users.into_iter().map(|u| {
                        let name = u.name.clone();
                        view! {
                            <tr>
                                <td><code>{u.name.clone()}</code></td>
                                <td>{u.role.as_str()}</td>
                                <td>{u.source.clone()}</td>
                                <td>{format_utc(u.created_at_ms)}</td>
                                <td>{if u.disabled { "disabled" } else { "active" }}</td>
                                <td>
                                    <ActionForm action=disable attr:class="inline-form">
                                        <input type="hidden" name="name" value=name.clone()/>
                                        <input type="hidden" name="disabled" value=(!u.disabled).to_string()/>
                                        <button type="submit" class="button">{if u.disabled { "Enable" } else { "Disable" }}</button>
                                    </ActionForm>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table></div>
        </section>
    }
}

#[component]
fn AuditTable(events: Vec<AuditEvent>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty">"Nothing recorded that matches."</p> }.into_any();
    }
    let oldest = events.last().map(|e| e.audit_id);
    view! {
        <div class="table-wrap"><table class="fleet" data-testid="audit">
            <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"From"</th><th>"Action"</th>
                <th>"Target"</th><th>"Result"</th><th>"Detail"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr>
                        <td>{format_utc(e.at_ms)}</td>
                        <td><code>{e.actor}</code>{e.role.map(|r| format!(" ({r})"))}</td>
                        <td>{e.address.unwrap_or_default()}</td>
                        <td><code>{e.action}</code></td>
                        <td>{e.target}</td>
                        <td>{e.result}</td>
                        <td class="detail">{e.detail}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table></div>
        {oldest.map(|id| view! { <p><a href=format!("/access?before={id}")>"Older"</a></p> })}
    }
    .into_any()
}
