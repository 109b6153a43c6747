//! Overview: every agent with its model chain and harness settings, each value
//! tagged with where it came from, and the harness fallback one click away.

use engine::config::FleetView;
use engine::config::{AgentView, Choice, HarnessFallback, Reachability};
use leptos::prelude::*;

use crate::auth::Can;
use engine::identity::Permission;
use leptos_router::components::A;

use crate::api::{get_fleet, SetAgentHarness};
use crate::components::{
    fallback_help, format_utc, source_name, ErrorBanner, FallbackSwitch, ModelName, ReachTag,
    SourceTag,
};

#[component]
pub fn Overview() -> impl IntoView {
    let set_harness = ServerAction::<SetAgentHarness>::new();
    // Refetch after every change, so the table shows what was stored.
    let fleet = Resource::new(move || set_harness.version().get(), |_| get_fleet());

    view! {
        <section class="page-head">
            <div>
                <h1>"Fleet"</h1>
                <p class="lede">
                    "Every agent, the model chain it runs and who executes each candidate. "
                    "Values tagged " <span class="src src-defaults">"inherited"</span>
                    " come from " <code>"agents.defaults"</code> "."
                </p>
            </div>
        </section>
        {move || set_harness.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner error=e/> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading fleet…"</p> }>
            {move || Suspend::new(async move {
                match fleet.await {
                    Ok(view) => view! { <FleetTable view set_harness/> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FleetTable(view: FleetView, set_harness: ServerAction<SetAgentHarness>) -> impl IntoView {
    let count = view.agents.len();
    let revision = view.revision.map(|revision| {
        view! {
            <span class="revision" title=revision.hash.clone()>
                "config revision " <strong>"#" {revision.id.0}</strong>
                " · " {revision.author.clone()} " · " {format_utc(revision.created_at_ms)}
                " · " <span class="revision-message">{revision.message.clone()}</span>
            </span>
        }
    });
    if count == 0 {
        return view! {
            <div class="card empty">
                <h2>"No agents configured yet"</h2>
                <p>"Add agents under " <code>"agents.entries"</code> " in the config, or start on an empty data dir without "
                    <code>"--no-demo"</code> " to get the demo fleet."</p>
            </div>
        }
        .into_any();
    }
    view! {
        <div class="card">
            <div class="card-head">
                <span class="count">{count} " agents"</span>
                {revision}
            </div>
            <div class="table-wrap">
                <table class="fleet">
                    <thead>
                        <tr>
                            <th scope="col">"Agent"</th>
                            <th scope="col">"Primary model"</th>
                            <th scope="col">"Fallback chain"</th>
                            <th scope="col">"Runtime"</th>
                            <th scope="col">"Harness fallback"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {view.agents.into_iter().map(|agent| view! { <AgentRow agent set_harness/> }.into_any()).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
        <HarnessLegend/>
    }
    .into_any()
}

#[component]
fn AgentRow(agent: AgentView, set_harness: ServerAction<SetAgentHarness>) -> impl IntoView {
    let AgentView {
        agent,
        reachability,
    } = agent;
    let id = agent.id.to_string();
    let (row_id, label_id, link_id) = (id.clone(), id.clone(), id.clone());
    let reach_of = {
        let reachability = reachability.clone();
        move |position: usize| reachability.candidates.get(position).map(|c| c.healthy)
    };
    let primary_reach = reach_of(0);
    let primary = match agent.primary.clone() {
        Some(p) => view! { <ModelName model=p.value/> <ReachTag reach=primary_reach/> <SourceTag source=p.source/> }.into_any(),
        None => view! { <span class="warn">"no primary model"</span> }.into_any(),
    };
    let chain = agent.fallbacks.value.clone();
    let offset = usize::from(agent.primary.is_some());
    let chain_view = if chain.is_empty() {
        view! { <span class="muted">"none"</span> }.into_any()
    } else {
        view! {
            <ol class="chain">
                {chain.into_iter().enumerate().map(|(i, m)| {
                    let reach = reach_of(i + offset);
                    view! { <li class:unreachable=reach.is_some_and(|r| !r.runs())><ModelName model=m/> <ReachTag reach/></li> }
                }).collect_view()}
            </ol>
        }
        .into_any()
    };
    view! {
        <tr data-agent=row_id>
            <th scope="row">
                <div class="agent-name"><A href=format!("/agents/{link_id}")>{agent.name.clone()}</A></div>
                <div class="agent-id">{label_id}</div>
            </th>
            <td>{primary}</td>
            <td>
                {chain_view} <SourceTag source=agent.fallbacks.source/>
                <ChainWarnings reachability/>
            </td>
            <td data-field="runtime" data-value=agent.runtime.value.as_str()>
                <span class="value">{agent.runtime.value.as_str()}</span>
                " " <SourceTag source=agent.runtime.source/>
            </td>
            <td data-field="fallback" data-value=agent.fallback.value.as_str() data-source=source_name(agent.fallback.source)>
                <Can need=Permission::Operate>
                    <FallbackSwitch agent=id.clone() current=agent.fallback.value source=agent.fallback.source runtime=agent.runtime.value set_harness/>
                </Can>
            </td>
        </tr>
    }
}

#[component]
fn ChainWarnings(reachability: Reachability) -> impl IntoView {
    (!reachability.warnings.is_empty()).then(|| {
        view! {
            <ul class="chain-warnings" role="note">
                {reachability.warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
            </ul>
        }
    })
}

#[component]
fn HarnessLegend() -> impl IntoView {
    view! {
        <section class="legend">
            <h2>"How the harness settings combine"</h2>
            <dl>
                <dt><code>"runtime"</code></dt>
                <dd>"Who executes a candidate: " <code>"codex"</code> " (the Codex app-server), "
                    <code>"pi"</code> " (Switchyard's native engine) or " <code>"auto"</code>
                    " (Codex for codex-family models, native for the rest)."</dd>
                {HarnessFallback::ALL.iter().map(|&v| view! {
                    <dt><code>"fallback: " {v.as_str()}</code></dt>
                    <dd>{capitalized(fallback_help(v).split_once(": ").map_or("", |(_, t)| t))}</dd>
                }).collect_view()}
            </dl>
        </section>
    }
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
