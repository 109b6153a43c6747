//! Drill: inject one failure class at one candidate of an agent's chain and
//! see the decision trail the real router and the real Codex harness produce
//! — against `sim`, with a store of its own (`engine::drill`).
//!
//! Everything lives in the URL (`/drill?agent=…&candidate=…&inject=…`): the
//! pickers are links and GET forms, so the page works before hydration, and
//! a drill is a bookmarkable address. "Change fallback to pi and drill
//! again" is the Agent page's fallback switch (a config revision): a form
//! post that lands back on the same address, which runs the drill again.

use engine::config::{AgentView, Choice, Harness, HarnessFallback, Reach};
use engine::drill::{DrillCandidate, DrillOptions, DrillReport};
use engine::failure::Layer;
use engine::runs::encode_segment;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{get_drill_options, get_fleet, run_drill, SetAgentHarness};
use crate::components::{
    duration_text, fallback_help, successes, DecisionTimeline, ErrorBanner, ModelName, ReachTag,
    SourceTag,
};

#[component]
pub fn DrillPage() -> impl IntoView {
    let query = use_query_map();
    let set_harness = ServerAction::<SetAgentHarness>::new();
    let changed = successes(set_harness);
    let param = move |k: &'static str| query.with(|q| q.get(k).filter(|v| !v.is_empty()));
    let fleet = Resource::new(|| (), |_| get_fleet());
    let options = Resource::new(
        move || (param("agent"), changed.get()),
        |(agent, _)| async move {
            match agent {
                Some(agent) => get_drill_options(agent).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let report = Resource::new(
        move || {
            (
                param("agent"),
                param("candidate"),
                param("inject"),
                changed.get(),
            )
        },
        |(agent, candidate, inject, _)| async move {
            match (agent, candidate, inject) {
                (Some(a), Some(c), Some(i)) => run_drill(a, c, i).await.map(Some),
                _ => Ok(None),
            }
        },
    );
    view! {
        <section class="page-head"><div>
            <h1>"Drill"</h1>
            <p class="lede">"Inject one failure at one candidate and see what the router and the Codex harness do about it. "
                "A drill runs the agent's real plan against sim, with the Codex stand-in and a store of its own: "
                "no provider is called, and production health, cooldowns, decisions and runs stay as they are."</p>
        </div></section>
        {move || set_harness.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner error=e/> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading agents…"</p> }>
            {move || Suspend::new(async move {
                match fleet.await {
                    Ok(fleet) => {
                        let ids: Vec<(String, String)> = fleet.agents.iter()
                            .map(|a| (a.agent.id.to_string(), a.agent.name.clone()))
                            .collect();
                        view! { <AgentPicker agents=ids current=param("agent")/> }.into_any()
                    }
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <Transition fallback=|| view! { <p class="loading">"Loading the agent's chain…"</p> }>
            {move || Suspend::new(async move {
                match options.await {
                    Ok(Some(options)) => view! {
                        <DrillLayout options candidate=param("candidate") inject=param("inject") report set_harness/>
                    }.into_any(),
                    Ok(None) => view! {
                        <p class="muted">"Pick an agent to see its chain and the failures a drill can inject."</p>
                    }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AgentPicker(agents: Vec<(String, String)>, current: Option<String>) -> impl IntoView {
    view! {
        <Form action="/drill" attr:class="card filters drill-agent">
            <label>"Agent "
                <select name="agent" aria-label="Agent">
                    <option value="">"Pick an agent…"</option>
                    {agents.into_iter().map(|(id, name)| {
                        let selected = current.as_deref() == Some(id.as_str());
                        view! { <option value=id.clone() selected=selected>{format!("{name} ({id})")}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="submit" class="button">"Show"</button>
        </Form>
    }
}

/// The candidate the page shows: the one asked for if it is in the chain,
/// else the first the drill reaches.
fn chosen(options: &DrillOptions, asked: Option<&str>) -> usize {
    let by_name = asked.and_then(|name| {
        options
            .candidates
            .iter()
            .position(|c| c.candidate.to_string() == name)
    });
    by_name
        .or_else(|| {
            options
                .candidates
                .iter()
                .position(|c| c.reach.runs() && c.unreached.is_none())
        })
        .unwrap_or(0)
}

#[component]
fn DrillLayout(
    options: DrillOptions,
    candidate: Option<String>,
    inject: Option<String>,
    report: Resource<Result<Option<DrillReport>, crate::error::AppError>>,
    set_harness: ServerAction<SetAgentHarness>,
) -> impl IntoView {
    let agent = options.agent.agent.id.to_string();
    let index = chosen(&options, candidate.as_deref());
    let settings =
        view! { <Settings view=options.agent.clone() codex=options.codex_command.clone()/> };
    let picked = options.candidates.get(index).cloned();
    view! {
        <div class="drill-grid">
            <div class="drill-main">
                <CandidatePicker agent=agent.clone() candidates=options.candidates.clone() index/>
                {picked.map(|c| view! { <InjectForm agent=agent.clone() candidate=c inject/> })}
            </div>
            {settings}
        </div>
        <Transition fallback=|| view! { <p class="loading">"Running the drill…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(Some(report)) => view! { <DrillResult report set_harness/> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// One link per candidate of the chain (switching does not run anything).
#[component]
fn CandidatePicker(agent: String, candidates: Vec<DrillCandidate>, index: usize) -> impl IntoView {
    view! {
        <nav class="card drill-candidates" aria-label="Candidate">
            <div class="card-head"><span class="count">"1. Where"</span><span class="muted">"the candidate that fails"</span></div>
            <ol class="chain pad">
                {candidates.into_iter().enumerate().map(|(i, c)| {
                    let href = format!("/drill?agent={}&candidate={}", encode_segment(&agent), encode_segment(&c.candidate.to_string()));
                    let current = i == index;
                    view! {
                        <li class:current=current data-candidate=c.candidate.to_string()>
                            <a href=href aria-current=if current { "true" } else { "false" }><ModelName model=c.candidate.clone()/></a>
                            <ReachTag reach=Some(c.reach)/>
                            {c.unreached.map(|why| view! { <span class="muted note">{why}</span> })}
                        </li>
                    }
                }).collect_view()}
            </ol>
        </nav>
    }
}

/// Every class of DESIGN §3, grouped by layer; the ones that cannot be
/// injected at this candidate are disabled with the reason next to them.
#[component]
fn InjectForm(agent: String, candidate: DrillCandidate, inject: Option<String>) -> impl IntoView {
    let name = candidate.candidate.to_string();
    view! {
        <Form action="/drill" attr:class="card drill-form">
            <div class="card-head"><span class="count">"2. What"</span>
                <span class="muted">"the failure at " <code>{name.clone()}</code> "; every other candidate answers ok"</span></div>
            <input type="hidden" name="agent" value=agent/>
            <input type="hidden" name="candidate" value=name/>
            <div class="layers pad">
                {Layer::ALL.into_iter().map(|layer| {
                    let classes: Vec<_> = candidate.classes.iter().filter(|o| o.layer == layer).cloned().collect();
                    view! {
                        <fieldset class="layer" data-layer=layer.as_str()>
                            <legend>{layer.as_str()}</legend>
                            {classes.into_iter().map(|o| {
                                let class = o.class.as_str();
                                let checked = inject.as_deref() == Some(class) && o.unavailable.is_none();
                                let disabled = o.unavailable.is_some();
                                view! {
                                    <div class="inject-option" class:unavailable=disabled data-class=class>
                                        <label title=o.how.clone().unwrap_or_default()>
                                            <input type="radio" name="inject" value=class checked=checked disabled=disabled required=true/>
                                            " " <code>{class}</code>
                                        </label>
                                        {o.unavailable.map(|why| view! { <span class="why">{why}</span> })}
                                    </div>
                                }
                            }).collect_view()}
                        </fieldset>
                    }
                }).collect_view()}
            </div>
            <div class="editor-bar pad">
                <button type="submit" class="button primary">"Run drill"</button>
            </div>
        </Form>
    }
}

#[component]
fn DrillResult(report: DrillReport, set_harness: ServerAction<SetAgentHarness>) -> impl IntoView {
    let DrillReport {
        agent,
        candidate,
        inject,
        layer,
        how,
        trail,
        outcome,
        reached,
        first_fallback_ms,
        took_ms,
        ..
    } = report;
    let agent_id = agent.agent.id.to_string();
    let (runtime, fallback) = (agent.agent.runtime.clone(), agent.agent.fallback.clone());
    let served = outcome.served_by.clone().map(|m| {
        let harness = match outcome.harness {
            Some(Harness::Codex) => "the Codex harness",
            _ => "the native engine",
        };
        view! {
            <div class="banner banner-ok" role="status" data-testid="drill-outcome" data-ok="true">
                <strong>"Served"</strong> " by " <code>{m.to_string()}</code> " in " {harness} "."
            </div>
        }
    });
    let failed = outcome.error.clone().map(|error| {
        view! {
            <div class="banner banner-error" role="alert" data-testid="drill-outcome" data-ok="false">
                <strong>{outcome.reason.clone().unwrap_or_default()}</strong> " " {error}
            </div>
        }
    });
    let stopped = outcome
        .stopped_by_fallback
        .filter(|f| *f != HarnessFallback::Pi);
    let fix = stopped.map(|fallback| {
        let pending = set_harness.pending();
        view! {
            <ActionForm action=set_harness attr:class="drill-fix pad">
                <input type="hidden" name="agent" value=agent_id.clone()/>
                <input type="hidden" name="fallback" value="pi"/>
                <button type="submit" class="button primary" disabled=move || pending.get()>
                    "Change fallback to pi and drill again"
                </button>
                <span class="muted">
                    " The chain stopped because of " <code>{format!("embeddedHarness.fallback: {}", fallback.as_str())}</code>
                    ". This sets " <code>"pi"</code> " on " {agent_id.clone()} " (a new config revision, like the Agent page's switch; "
                    {fallback_help(HarnessFallback::Pi)} ") and runs the same drill again."
                </span>
            </ActionForm>
        }
    });
    view! {
        <section class="card drill-result" data-testid="drill-result">
            <div class="card-head"><span class="count">"Decision trail"</span>
                <span class="muted">"what the router decided, in order (not stored anywhere)"</span></div>
            <div class="pad">
                <p class="drill-context">"Drilled with "
                    <code>"runtime: "{runtime.value.as_str()}</code> <SourceTag source=runtime.source/> " · "
                    <code>"fallback: "{fallback.value.as_str()}</code> <SourceTag source=fallback.source/>
                </p>
                {served}
                {failed}
                {(!reached).then(|| view! {
                    <div class="banner" role="note">"The injected failure was never reached: an earlier candidate answered first, as it would in a real run."</div>
                })}
            </div>
            {fix}
            <dl class="facts">
                <dt>"Injected"</dt><dd><code>{inject.as_str()}</code> " (" {layer.as_str()} " layer) at " <code>{candidate.to_string()}</code></dd>
                <dt>"How"</dt><dd>{how}</dd>
                <dt>"First fallback"</dt><dd>{match first_fallback_ms {
                    Some(ms) => format!("the next candidate started {} after the call began", duration_text(ms)),
                    None => "none: no other candidate was attempted after the failure".to_owned(),
                }}</dd>
                <dt>"Took"</dt><dd>{duration_text(took_ms)}</dd>
            </dl>
            <DecisionTimeline decisions=trail/>
        </section>
    }
}

/// The agent's effective settings, each with where it comes from.
#[component]
fn Settings(view: AgentView, codex: String) -> impl IntoView {
    let AgentView {
        agent,
        reachability,
    } = view;
    let href = format!("/agents/{}", encode_segment(agent.id.as_str()));
    view! {
        <aside class="card drill-settings" aria-label="Agent settings">
            <div class="card-head"><span class="count">{agent.name.clone()}</span><a href=href>"Agent page"</a></div>
            <dl class="settings-list">
                <dt>"runtime"</dt>
                <dd data-field="runtime" data-value=agent.runtime.value.as_str()>
                    <span class="value">{agent.runtime.value.as_str()}</span> <SourceTag source=agent.runtime.source/>
                </dd>
                <dt>"fallback"</dt>
                <dd data-field="fallback" data-value=agent.fallback.value.as_str()>
                    <span class="value">{agent.fallback.value.as_str()}</span> <SourceTag source=agent.fallback.source/>
                    <div class="muted small">{fallback_help(agent.fallback.value)}</div>
                </dd>
                <dt>"Codex"</dt>
                <dd><code class="small">{codex}</code> <div class="muted small">"configured; a drill runs the stand-in"</div></dd>
                <dt>"chain"</dt>
                <dd><SourceTag source=agent.fallbacks.source/></dd>
            </dl>
            <ol class="chain pad">
                {reachability.candidates.into_iter().map(|c| {
                    let never = matches!(c.healthy, Reach::Skipped(_));
                    view! {
                        <li class:unreachable=never><ModelName model=c.candidate/> <ReachTag reach=Some(c.healthy)/></li>
                    }
                }).collect_view()}
            </ol>
            {(!reachability.warnings.is_empty()).then(|| view! {
                <ul class="chain-warnings matrix-warnings" role="note">
                    {reachability.warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                </ul>
            })}
        </aside>
    }
}
