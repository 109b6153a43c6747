//! Config: every change is a revision. List them, compare any two, roll back
//! in one click, or edit the whole config as JSON5. A save based on an old
//! revision is refused and shows what changed meanwhile, keeping the text.

use engine::config::diff::{ChangeKind, Diff, RowKind};
use engine::config::RevisionInfo;
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::auth::Can;
use engine::identity::Permission;
use leptos_router::components::{Form, A};
use leptos_router::hooks::use_query_map;

use crate::api::{
    get_changes_since, get_config_diff, get_config_history, ConfigHistory, RollbackConfig,
    SaveConfig,
};
use crate::components::{format_utc, successes, ErrorBanner};
use crate::error::AppError;

#[component]
pub fn ConfigPage() -> impl IntoView {
    let save = ServerAction::<SaveConfig>::new();
    let rollback = ServerAction::<RollbackConfig>::new();
    let landed = successes(save);
    let history = Resource::new(
        move || (landed.get(), rollback.version().get()),
        |_| get_config_history(),
    );

    view! {
        <section class="page-head">
            <h1>"Config"</h1>
            <p class="lede">
                "Every change — a click, an API call, a rollback — is stored as a new revision. "
                "Compare any two, roll back in one click, or edit the whole config."
            </p>
        </section>
        {move || rollback.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner error=e/> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading revisions…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(h) => view! {
                        <div class="config-grid">
                            {view! { <Revisions history=h.clone() rollback/> }.into_any()}
                            {view! { <DiffPanel revisions=h.revisions.clone()/> }.into_any()}
                        </div>
                        {view! { <Editor history=h save/> }.into_any()}
                    }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Revisions(history: ConfigHistory, rollback: ServerAction<RollbackConfig>) -> impl IntoView {
    let head = history.current.as_ref().map(|r| r.id);
    let pending = rollback.pending();
    view! {
        <div class="card">
            <div class="card-head"><span class="count">{plural(history.revisions.len(), "revision")}</span></div>
            <div class="table-wrap">
                <table class="fleet revisions">
                    <thead><tr>
                        <th scope="col">"#"</th><th scope="col">"When"</th><th scope="col">"Author"</th>
                        <th scope="col">"Message"</th><th scope="col"></th>
                    </tr></thead>
                    <tbody>
                        {history.revisions.into_iter().map(|r| {
                            let is_head = Some(r.id) == head;
                            let compare = r.parent.map(|p| format!("/config?from={}&to={}", p.0, r.id.0));
                            view! {
                                <tr data-revision=r.id.0 class:head=is_head>
                                    <td class="mono">"#" {r.id.0}</td>
                                    <td class="nowrap">{format_utc(r.created_at_ms)}</td>
                                    <td>{r.author.clone()}</td>
                                    <td class="revision-message">{r.message.clone()}</td>
                                    <td><div class="actions">
                                        {compare.map(|href| view! { <A href=href>"changes"</A> })}
                                        {if is_head {
                                            view! { <span class="src src-agent">"current"</span> }.into_any()
                                        } else {
                                            let to = r.id.0;
                                            view! {
                                                <Can need=Permission::Administer>
                                                    <ActionForm action=rollback attr:class="inline-form">
                                                        <input type="hidden" name="to" value=to/>
                                                        <button type="submit" class="button" disabled=move || pending.get()>
                                                            "Roll back to #" {to}
                                                        </button>
                                                    </ActionForm>
                                                </Can>
                                            }.into_any()
                                        }}
                                    </div></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}

/// Compare any two revisions, chosen in the URL (`/config?from=1&to=3`), so a
/// comparison can be linked and works without JavaScript.
#[component]
fn DiffPanel(revisions: Vec<RevisionInfo>) -> impl IntoView {
    let query = use_query_map();
    let pick = move |key: &str| query.read().get(key).and_then(|v| v.parse::<i64>().ok());
    let diff = Resource::new(
        move || (pick("from"), pick("to")),
        |(from, to)| async move {
            match (from, to) {
                (Some(from), Some(to)) => get_config_diff(from, to).await.map(Some),
                _ => Ok(None),
            }
        },
    );
    let revisions = StoredValue::new(revisions);
    // Reactive, so the selects follow a "changes" link without a reload.
    let options = move |key: &'static str| {
        move || {
            let selected = pick(key);
            revisions.with_value(|revisions| {
                revisions
                    .iter()
                    .map(|r| {
                        let id = r.id.0;
                        view! { <option value=id selected=Some(id) == selected>"#" {id} " — " {r.message.clone()}</option> }
                    })
                    .collect_view()
            })
        }
    };
    let (from_options, to_options) = (options("from"), options("to"));
    view! {
        <div class="card diff-card">
            <div class="card-head">
                <Form method="GET" action="/config" attr:class="compare-form">
                    <label>"from " <select name="from">{from_options}</select></label>
                    <label>" to " <select name="to">{to_options}</select></label>
                    <button type="submit" class="button">"Compare"</button>
                </Form>
            </div>
            <Suspense fallback=|| view! { <p class="loading pad">"Comparing…"</p> }>
                {move || Suspend::new(async move {
                    match diff.await {
                        Ok(Some(d)) => view! { <DiffView diff=d/> }.into_any(),
                        Ok(None) => view! { <p class="muted pad">"Pick two revisions, or follow a revision's “changes” link."</p> }.into_any(),
                        Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

#[component]
fn DiffView(diff: Diff) -> impl IntoView {
    if diff.changes.is_empty() {
        return view! { <p class="muted pad">"No differences."</p> }.into_any();
    }
    view! {
        <ul class="changes">
            {diff.changes.into_iter().map(|c| {
                let (class, sign) = match c.kind {
                    ChangeKind::Added => ("change added", "+"),
                    ChangeKind::Removed => ("change removed", "−"),
                    ChangeKind::Changed => ("change changed", "~"),
                };
                let show = |v: Option<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
                view! {
                    <li class=class data-path=c.path.clone()>
                        <span class="sign">{sign}</span> <code>{c.path.clone()}</code>
                        {c.before.is_some().then(|| view! { " " <span class="before">{show(c.before.clone())}</span> })}
                        {(c.before.is_some() && c.after.is_some()).then_some(" → ")}
                        {c.after.is_some().then(|| view! { <span class="after">{show(c.after.clone())}</span> })}
                    </li>
                }
            }).collect_view()}
        </ul>
        <div class="side-by-side">
            <table>
                <tbody>
                    {diff.side_by_side.into_iter().map(|row| {
                        let class = match row.kind {
                            RowKind::Same => "same",
                            RowKind::Removed => "removed",
                            RowKind::Added => "added",
                            RowKind::Changed => "changed",
                            RowKind::Gap => "gap",
                        };
                        let side = |cell: Option<(usize, String)>, gap: bool| match cell {
                            Some((n, text)) => view! { <td class="ln">{n}</td><td class="code">{text}</td> }.into_any(),
                            None if gap => view! { <td class="ln">"⋯"</td><td class="code"></td> }.into_any(),
                            None => view! { <td class="ln"></td><td class="code empty"></td> }.into_any(),
                        };
                        let gap = row.kind == RowKind::Gap;
                        view! { <tr class=class>{side(row.left, gap)}{side(row.right, gap)}</tr> }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn Editor(history: ConfigHistory, save: ServerAction<SaveConfig>) -> impl IntoView {
    let base_hash = history
        .current
        .as_ref()
        .map(|r| r.hash.clone())
        .unwrap_or_default();
    let base_id = history.current.as_ref().map(|r| r.id.0);
    let pending = save.pending();
    view! {
            <div class="card editor-card">
                <div class="card-head">
                    <span class="count">"Edit the whole config"</span>
                    <span class="muted">"JSON5: comments and trailing commas are fine. Secrets are " <code>"{\"env\": \"NAME\"}"</code> " references."</span>
                </div>
                <Can need=Permission::Administer>
                    {
                        let base_hash = base_hash.clone();
                    let text = history.text.clone();
                        view! {
    <ActionForm action=save attr:class="editor">
                        <input type="hidden" name="base_hash" value=base_hash/>
                        <textarea name="text" spellcheck="false" rows="24" aria-label="Config text">{text}</textarea>
                        <div class="editor-bar">
                            <input type="text" name="message" placeholder="What changed and why" aria-label="Change message"/>
                            <button type="submit" class="button primary" disabled=move || pending.get()>"Save as new revision"</button>
                        </div>
                    </ActionForm>
                        }
                    }
                </Can>
                {move || save.value().get().map(|result| match result {
                    Ok(r) => view! { <p class="banner banner-ok" role="status">"Saved as revision #" {r.id.0} "."</p> }.into_any(),
                    Err(e) if e.code == "conflict" => view! { <ConflictView error=e base_id/> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                })}
            </div>
        }
}

/// A save based on an old revision: nothing was overwritten. Show what
/// changed since the base, so the operator can redo their edit on top.
#[component]
fn ConflictView(error: AppError, base_id: Option<i64>) -> impl IntoView {
    let changes = Resource::new(
        move || base_id,
        |base| async move {
            match base {
                Some(id) => get_changes_since(id).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <div class="banner banner-conflict" role="alert" data-code="conflict">
            <strong>"Not saved: the config changed since you opened it."</strong>
            <p>"Your text is still in the editor. Here is what changed meanwhile; reload the page to start from the current revision "
                <code>{error.current_hash.clone().unwrap_or_default().chars().take(12).collect::<String>()}</code> "."</p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match changes.await {
                        Ok(Some(d)) => view! { <DiffView diff=d/> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
