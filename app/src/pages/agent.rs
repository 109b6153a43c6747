//! Agent: one agent's effective settings with their sources, the chain editor
//! (reorder, remove, add from the configured providers' models), the harness
//! switch, and the reachability matrix of DESIGN §2.

use engine::config::{AgentView, CandidateReach, Choice, Reach, Sandbox};
use leptos::prelude::*;

use crate::auth::Can;
use engine::identity::Permission;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{get_agent_page, AgentPageData, SetAgentChain, SetAgentHarness};
use crate::components::{successes, ErrorBanner, FallbackSwitch, ModelName, ReachTag, SourceTag};

#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let save = ServerAction::<SetAgentChain>::new();
    let set_harness = ServerAction::<SetAgentHarness>::new();
    let landed = successes(save);
    let page = Resource::new(
        move || (id(), landed.get(), set_harness.version().get()),
        |(id, _, _)| get_agent_page(id),
    );
    view! {
        <p class="crumbs"><A href="/">"Fleet"</A> " / " {id}</p>
        {move || set_harness.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner error=e/> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading agent…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(data) => view! { <AgentDetail data save set_harness/> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AgentDetail(
    data: AgentPageData,
    save: ServerAction<SetAgentChain>,
    set_harness: ServerAction<SetAgentHarness>,
) -> impl IntoView {
    let AgentView {
        agent,
        reachability,
    } = data.view.clone();
    let id = agent.id.to_string();
    view! {
        <section class="page-head">
            <div>
                <h1>{agent.name.clone()}</h1>
                <p class="lede mono">{id.clone()}</p>
            </div>
            <a class="button" href=format!("/drill?agent={}", engine::runs::encode_segment(&id))>"Drill a failure"</a>
        </section>
        <div class="card settings">
            <dl class="settings-list">
                <dt>"runtime"</dt>
                <dd data-field="runtime"><span class="value">{agent.runtime.value.as_str()}</span> <SourceTag source=agent.runtime.source/></dd>
                <dt>"fallback"</dt>
                <dd data-field="fallback" data-value=agent.fallback.value.as_str()>
                    <Can need=Permission::Operate>
                        <FallbackSwitch agent=id.clone() current=agent.fallback.value source=agent.fallback.source runtime=agent.runtime.value set_harness/>
                    </Can>
                </dd>
                <dt>"exec sandbox"</dt>
                <dd data-field="sandbox" data-value=agent.sandbox.value.as_str() data-runs=data.exec_sandbox.runs.to_string()>
                    <span class=if data.exec_sandbox.runs && agent.sandbox.value == Sandbox::Landlock { "value" } else { "value warn" }>{data.exec_sandbox.text.clone()}</span>
                    " " <SourceTag source=agent.sandbox.source/>
                </dd>
                <dt>"chain"</dt>
                <dd><SourceTag source=agent.fallbacks.source/> " " <span class="muted">"(primary and fallbacks; saving sets them on this agent)"</span></dd>
            </dl>
        </div>
        <Can need=Permission::Operate>
            <ChainEditor data=data.clone() save/>
        </Can>
        {view! { <Matrix candidates=reachability.candidates warnings=reachability.warnings/> }.into_any()}
    }
}

#[component]
fn ChainEditor(data: AgentPageData, save: ServerAction<SetAgentChain>) -> impl IntoView {
    let agent = data.view.agent.clone();
    let initial: Vec<String> = agent
        .primary
        .iter()
        .map(|p| p.value.to_string())
        .chain(agent.fallbacks.value.iter().map(|m| m.to_string()))
        .collect();
    let chain = RwSignal::new(initial.clone());
    let message = RwSignal::new(String::new());
    let to_add = RwSignal::new(String::new());
    let dirty = move || chain.with(|c| *c != initial);
    let models = StoredValue::new(data.models);
    let (agent_id, base_hash) = (agent.id.to_string(), data.base_hash);
    let swap = move |i: usize, j: usize| chain.update(|c| c.swap(i, j));
    let on_save = move |_| {
        save.dispatch(SetAgentChain {
            agent: agent_id.clone(),
            base_hash: base_hash.clone(),
            chain: chain.get(),
            message: message.get(),
        });
    };
    view! {
        <div class="card">
            <div class="card-head"><span class="count">"Model chain"</span><span class="muted">"Tried in order; the first is the primary."</span></div>
            <ol class="chain-editor">
                {move || {
                    let items = chain.get();
                    let last = items.len().saturating_sub(1);
                    items.into_iter().enumerate().map(|(i, m)| {
                        let label = m.clone();
                        view! {
                            <li data-candidate=m.clone()>
                                <span class="slot">{if i == 0 { "primary".to_owned() } else { format!("fallback {i}") }}</span>
                                {match m.parse() {
                                    Ok(model) => view! { <ModelName model/> }.into_any(),
                                    Err(_) => view! { <code>{m.clone()}</code> }.into_any(),
                                }}
                                <span class="row-actions">
                                    <button type="button" class="icon" aria-label=format!("Move {label} up") disabled=i == 0 on:click=move |_| swap(i, i - 1)>"↑"</button>
                                    <button type="button" class="icon" aria-label=format!("Move {label} down") disabled=i == last on:click=move |_| swap(i, i + 1)>"↓"</button>
                                    <button type="button" class="icon" aria-label=format!("Remove {label}") on:click=move |_| chain.update(|c| { c.remove(i); })>"✕"</button>
                                </span>
                            </li>
                        }
                    }).collect_view()
                }}
            </ol>
            <div class="editor-bar pad">
                <select aria-label="Model to add" on:change=move |ev| to_add.set(event_target_value(&ev)) prop:value=move || to_add.get()>
                    <option value="">"Add a model…"</option>
                    {move || models.with_value(|all| all.iter().filter(|m| !chain.with(|c| c.contains(m))).map(|m| {
                        view! { <option value=m.clone()>{m.clone()}</option> }
                    }).collect_view())}
                </select>
                <button type="button" class="button" disabled=move || to_add.with(String::is_empty)
                    on:click=move |_| { let m = to_add.get(); if !m.is_empty() { chain.update(|c| c.push(m)); to_add.set(String::new()); } }>
                    "Add"
                </button>
                <input type="text" placeholder="What changed and why" aria-label="Change message"
                    on:input=move |ev| message.set(event_target_value(&ev)) prop:value=move || message.get()/>
                <button type="button" class="button primary" disabled=move || !dirty() || save.pending().get() on:click=on_save>
                    "Save chain"
                </button>
            </div>
            {move || save.value().get().map(|result| match result {
                Ok(_) => view! { <p class="banner banner-ok" role="status">"Saved."</p> }.into_any(),
                Err(e) if e.code == "conflict" => view! {
                    <div class="banner banner-conflict" role="alert" data-code="conflict">
                        <strong>"Not saved: the config changed since you opened this page."</strong>
                        <p>"Nothing was overwritten. " <a href="">"Reload"</a> " to see the current chain, then reorder again."</p>
                    </div>
                }.into_any(),
                Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
            })}
        </div>
    }
}

/// Where each candidate runs when things are healthy and when the Codex
/// app-server itself fails.
#[component]
fn Matrix(candidates: Vec<CandidateReach>, warnings: Vec<String>) -> impl IntoView {
    let cell = |r: Reach| view! { <td><ReachTag reach=Some(r)/></td> };
    view! {
        <div class="card">
            <div class="card-head"><span class="count">"Reachability"</span><span class="muted">"Which candidates can serve, and in which harness."</span></div>
            <table class="fleet matrix">
                <thead><tr><th scope="col">"Candidate"</th><th scope="col">"Healthy (model failures move down the chain)"</th><th scope="col">"Codex app-server down"</th></tr></thead>
                <tbody>
                    {candidates.into_iter().map(|c| view! {
                        <tr><th scope="row"><ModelName model=c.candidate/></th>{cell(c.healthy)}{cell(c.codex_down)}</tr>
                    }).collect_view()}
                </tbody>
            </table>
            {(!warnings.is_empty()).then(|| view! {
                <ul class="chain-warnings matrix-warnings" role="note">
                    {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                </ul>
            })}
        </div>
    }
}
