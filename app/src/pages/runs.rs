//! Runs (filterable, keyset-paginated, newest first) and Run detail (the
//! attempt timeline from the router's decisions, the transcript, cancel).

use engine::runs::{RunDetail, RunPage, RunRecord, RunStatus};
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::auth::Can;
use engine::identity::Permission;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{get_run, get_runs, CancelRun};
use crate::components::{
    duration_text, format_utc, live_tick, live_tick_while, DecisionTimeline, ErrorBanner,
    StatusBadge,
};

const FILTERS: [&str; 5] = ["agent", "job", "status", "class", "fallback"];

#[component]
pub fn RunsPage() -> impl IntoView {
    let query = use_query_map();
    let tick = live_tick(2_000);
    let page = Resource::new(
        move || (tick.get(), query.get()),
        |(_, q)| {
            let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
            get_runs(
                get("agent"),
                get("job"),
                get("status"),
                get("class"),
                get("fallback"),
                get("before"),
            )
        },
    );
    let value = move |k: &'static str| query.with(|q| q.get(k).unwrap_or_default());
    view! {
        <section class="page-head"><div>
            <h1>"Runs"</h1>
            <p class="lede">"Every run, newest first. Filters combine; pages go back in time."</p>
        </div></section>
        // A plain GET form: the filters live in the URL, so a filtered view
        // can be bookmarked and works without JavaScript.
        <form class="card filters" method="get" action="/runs">
            <label>"Agent " <input name="agent" value=move || value("agent")/></label>
            <label>"Job " <input name="job" value=move || value("job")/></label>
            <label>"Status "
                <select name="status">
                    <option value="">"any"</option>
                    {RunStatus::ALL.iter().map(|s| {
                        let s = s.as_str();
                        view! { <option value=s selected=move || value("status") == s>{s}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label>"Class " <input name="class" placeholder="rate_limit, abandoned…" value=move || value("class")/></label>
            <label>"Fallback used "
                <select name="fallback">
                    <option value="">"any"</option>
                    <option value="yes" selected=move || value("fallback") == "yes">"yes"</option>
                    <option value="no" selected=move || value("fallback") == "no">"no"</option>
                </select>
            </label>
            <button type="submit" class="button">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading runs…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <RunTable page query=query.get_untracked()/> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RunTable(page: RunPage, query: leptos_router::params::ParamsMap) -> impl IntoView {
    if page.runs.is_empty() {
        return view! { <div class="card empty"><h2>"No runs match"</h2></div> }.into_any();
    }
    let older = page.next.map(|cursor| {
        let mut parts: Vec<String> = FILTERS
            .iter()
            .filter_map(|k| {
                query
                    .get(k)
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("{k}={}", engine::runs::encode_segment(&v)))
            })
            .collect();
        parts.push(format!("before={}", engine::runs::encode_segment(&cursor)));
        view! { <a class="button" href=format!("/runs?{}", parts.join("&"))>"Older runs →"</a> }
    });
    view! {
        <div class="card">
            <div class="table-wrap">
                <table class="fleet runs">
                    <thead><tr>
                        <th scope="col">"Run"</th><th scope="col">"Status"</th><th scope="col">"Agent"</th>
                        <th scope="col">"Queued"</th><th scope="col">"Duration"</th><th scope="col">"Model"</th>
                        <th scope="col">"Error"</th>
                    </tr></thead>
                    <tbody>{page.runs.into_iter().map(|run| view! { <RunRow run/> }).collect_view()}</tbody>
                </table>
            </div>
        </div>
        <p class="pager">{older}</p>
    }
    .into_any()
}

#[component]
fn RunRow(run: RunRecord) -> impl IntoView {
    let href = format!("/runs/{}", engine::runs::encode_segment(&run.run_id));
    view! {
        <tr data-run=run.run_id.clone()>
            <td><a href=href><code>{run.run_id.clone()}</code></a></td>
            <td><StatusBadge status=run.status/></td>
            <td>{run.agent_id.clone()}</td>
            <td>{format_utc(run.queued_at_ms)}</td>
            <td>{run.duration_ms.map(duration_text)}</td>
            <td>{run.model.clone()}{run.fallback_used.then_some(" (fallback)")}</td>
            <td>{run.error_class.clone().map(|c| view! { <code>{c}</code> })} " "
                <span class="detail">{run.error.clone()}</span></td>
        </tr>
    }
}

#[component]
pub fn RunPageView() -> impl IntoView {
    let params = use_params_map();
    let cancel = ServerAction::<CancelRun>::new();
    // Polled while the run can still change; a finished or missing run
    // (404) is final. Other errors (a restarting server) keep polling.
    let live = RwSignal::new(true);
    let tick = live_tick_while(1_000, live.into());
    let detail = Resource::new(
        move || {
            (
                tick.get(),
                cancel.version().get(),
                params.with(|p| p.get("id").unwrap_or_default()),
            )
        },
        |(_, _, id)| get_run(id),
    );
    Effect::new(move |_| {
        if let Some(result) = detail.get() {
            live.set(match result {
                Ok(d) => !d.run.status.is_final(),
                Err(e) => e.code != "not_found",
            });
        }
    });
    view! {
        {move || cancel.value().get().and_then(Result::err).map(|e| view! { <ErrorBanner error=e/> })}
        <Transition fallback=|| view! { <p class="loading">"Loading run…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <RunView detail cancel/> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RunView(detail: RunDetail, cancel: ServerAction<CancelRun>) -> impl IntoView {
    let RunDetail {
        run,
        decisions,
        logs,
        transcript,
    } = detail;
    let cancellable = !run.status.is_final();
    let run_id = run.run_id.clone();
    view! {
            <section class="page-head"><div>
                <h1><code>{run.run_id.clone()}</code> " " <StatusBadge status=run.status/></h1>
                <p class="lede">"Job " <a href=format!("/runs?job={}", run.job_id)>{run.job_id.clone()}</a>
                    " · agent " <a href=format!("/agents/{}", run.agent_id)>{run.agent_id.clone()}</a>
                    " · " {run.trigger.as_str()} " · lane " <code>{run.lane.clone()}</code></p>
            </div>
            {cancellable.then(|| view! {
                <Can need=Permission::Operate>
                    {
                        let run_id = run_id.clone();
                        view! {
    <ActionForm action=cancel>
                        <input type="hidden" name="run" value=run_id/>
                        <button type="submit" class="button">"Cancel run"</button>
                    </ActionForm>
                        }
                    }
                </Can>
            })}
            </section>
            {run.error.clone().map(|e| view! {
                <div class="banner banner-error"><strong>{run.error_class.clone().unwrap_or_default()}</strong> " " {e}</div>
            })}
            {run.note.clone().map(|n| view! { <div class="banner" data-testid="run-note">{n}</div> })}
            <section class="card">
                <dl class="facts">
                    <dt>"Queued"</dt><dd>{format_utc(run.queued_at_ms)}
                        {run.queue_ahead.map(|n| format!(" · {n} ahead in its lane"))}</dd>
                    <dt>"Started"</dt><dd>{run.started_at_ms.map(format_utc)}
                        {run.lane_wait_ms.map(|w| format!(" · waited {}", duration_text(w)))}</dd>
                    <dt>"Finished"</dt><dd>{run.finished_at_ms.map(format_utc)}
                        {run.duration_ms.map(|d| format!(" · took {}", duration_text(d)))}</dd>
                    <dt>"Served by"</dt><dd>{run.model.clone()} " " {run.harness.clone()}
                        {run.fallback_used.then_some(" · fallback used")}</dd>
                    <dt>"Tokens"</dt><dd>{run.input_tokens} " in / " {run.output_tokens} " out · " {run.attempts} " attempts"</dd>
                    <dt>"Owner"</dt><dd><code>{run.owner.clone()}</code></dd>
                </dl>
            </section>
            <section class="card">
                <header class="card-head"><h2>"Attempts"</h2></header>
                <DecisionTimeline decisions/>
            </section>
            <section class="card">
                <header class="card-head"><h2>"Log"</h2><span class="muted">"lines that named this run"</span></header>
                <ol class="run-log">
                    {logs.into_iter().map(|l| view! {
                        <li><span class="kind">{l.level}</span> <pre>{format_utc(l.at_ms)} " " {l.line}</pre></li>
                    }).collect_view()}
                </ol>
            </section>
            <section class="card">
                <header class="card-head"><h2>"Transcript"</h2></header>
                <ol class="transcript">
                    {transcript.into_iter().map(|e| {
                        let kind = e["kind"].as_str().unwrap_or("").to_owned();
                        let body = &e["body"];
                        let text = body["text"].as_str().map(str::to_owned)
                            .or_else(|| body["content"].as_str().map(str::to_owned))
                            .or_else(|| body["message"].as_str().map(str::to_owned))
                            .unwrap_or_else(|| body.to_string());
                        view! { <li class=format!("entry {kind}")><span class="kind">{kind.clone()}</span> <pre>{text}</pre></li> }
                    }).collect_view()}
                </ol>
            </section>
        }
}
