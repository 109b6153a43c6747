//! Jobs: every schedule in words with its next fires, the agent, whether it
//! is enabled, its state (running since, queued, consecutive errors, last
//! error) and a Run now button that shows the new run at once and follows
//! it live.

use engine::runs::{Enqueued, JobView, RunStatus};
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::{get_jobs, get_run, RunJob};
use crate::auth::Can;
use crate::components::{format_utc, live_tick, ErrorBanner, StatusBadge};
use engine::identity::Permission;

#[component]
pub fn JobsPage() -> impl IntoView {
    let run_job = ServerAction::<RunJob>::new();
    let tick = live_tick(1_000);
    let jobs = Resource::new(
        move || (tick.get(), run_job.version().get()),
        |_| get_jobs(),
    );
    view! {
        <section class="page-head">
            <div>
                <h1>"Jobs"</h1>
                <p class="lede">"Schedules, what they run next, and how their last runs went. "
                    "Run now queues a run at once; it shows here and on the Runs page as it goes."</p>
            </div>
        </section>
        {move || match run_job.value().get() {
            Some(Ok(enqueued)) => view! { <NewRun enqueued tick/> }.into_any(),
            Some(Err(e)) => view! { <ErrorBanner error=e/> }.into_any(),
            None => ().into_any(),
        }}
        <Transition fallback=|| view! { <p class="loading">"Loading jobs…"</p> }>
            {move || Suspend::new(async move {
                match jobs.await {
                    Ok(jobs) => view! { <JobTable jobs run_job/> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The run just queued, followed live until it ends.
#[component]
fn NewRun(enqueued: Enqueued, tick: RwSignal<u32>) -> impl IntoView {
    let run_id = enqueued.run_id.clone();
    let detail = Resource::new(move || (tick.get(), run_id.clone()), |(_, id)| get_run(id));
    let href = format!("/runs/{}", enqueued.run_id);
    view! {
        <section class="card new-run" data-testid="new-run">
            <p>"Queued " <a href=href><code>{enqueued.run_id.clone()}</code></a> " · "
                <Transition fallback=|| view! { <StatusBadge status=RunStatus::Queued/> }>
                    {move || Suspend::new(async move {
                        match detail.await {
                            Ok(d) => view! {
                                <StatusBadge status=d.run.status/>
                                {d.run.model.map(|m| view! { " served by " <code>{m}</code> })}
                                {d.run.error.map(|e| view! { " · " <span class="detail">{e}</span> })}
                            }.into_any(),
                            Err(_) => view! { <StatusBadge status=RunStatus::Queued/> }.into_any(),
                        }
                    })}
                </Transition>
            </p>
        </section>
    }
}

#[component]
fn JobTable(jobs: Vec<JobView>, run_job: ServerAction<RunJob>) -> impl IntoView {
    if jobs.is_empty() {
        return view! {
            <div class="card empty"><h2>"No jobs yet"</h2>
                <p>"Add jobs under " <code>"cron.jobs"</code> " in the config."</p></div>
        }
        .into_any();
    }
    view! {
        <div class="card">
            <div class="table-wrap">
                <table class="fleet jobs">
                    <thead><tr>
                        <th scope="col">"Job"</th><th scope="col">"Agent"</th><th scope="col">"Schedule"</th>
                        <th scope="col">"Next fire"</th><th scope="col">"State"</th><th scope="col"></th>
                    </tr></thead>
                    <tbody>
                        {jobs.into_iter().map(|job| view! { <JobRow job run_job/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn JobRow(job: JobView, run_job: ServerAction<RunJob>) -> impl IntoView {
    let next = job
        .next_fires
        .first()
        .copied()
        .map(format_utc)
        .unwrap_or_else(|| "—".into());
    let upcoming = job
        .next_fires
        .iter()
        .copied()
        .map(format_utc)
        .collect::<Vec<_>>()
        .join("\n");
    let state = &job.state;
    let running = state
        .running_at_ms
        .map(|t| view! { <span class="badge warn">"running since " {format_utc(t)}</span> " " });
    let queued = (job.queued > i64::from(state.running_at_ms.is_some()))
        .then(|| view! { <span class="badge">{job.queued} " queued"</span> " " });
    let errors = (state.consecutive_errors > 0).then(|| {
        view! { <span class="badge bad" data-testid="consecutive-errors">{state.consecutive_errors} " errors in a row"</span> " " }
    });
    let last = state
        .last_status
        .clone()
        .map(|s| view! { <span class="muted">"last: " {s}</span> });
    let last_error = state
        .last_error
        .clone()
        .map(|e| view! { <div class="detail">{e}</div> });
    let job_id = job.id.clone();
    let runs_href = format!("/runs?job={}", job.id);
    view! {
            <tr data-job=job.id.clone() class:disabled=!job.enabled>
                <th scope="row">
                    <div class="agent-name">{job.name.clone().unwrap_or_else(|| job.id.clone())}</div>
                    <div class="agent-id">{job.id.clone()} {(!job.enabled).then_some(" · disabled")}</div>
                </th>
                <td><a href=format!("/agents/{}", job.agent_id)>{job.agent_id.clone()}</a></td>
                <td>{job.schedule.clone()}</td>
                <td title=upcoming>{next}</td>
                <td>{running}{queued}{errors}{last}{last_error}</td>
                <td class="actions">
                    <Can need=Permission::Operate>
                        {
                            let job_id = job_id.clone();
                            view! {
    <ActionForm action=run_job>
                            <input type="hidden" name="job" value=job_id/>
                            <button type="submit" class="button primary">"Run now"</button>
                        </ActionForm>
                            }
                        }
                    </Can>
                    <a href=runs_href>"runs"</a>
                </td>
            </tr>
        }
}
