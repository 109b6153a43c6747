//! Providers: the Codex app-server harness's health (crashes, handshake
//! failures, the last error, a handshake check) above each provider's
//! health, its models' cooldowns with time left, the circuit, last hour's
//! calls by failure class, a test call per model, and the router's newest
//! decisions. Refreshes every few seconds once
//! hydrated; before that (or without JavaScript) it is a complete snapshot.

use engine::health::{
    CircuitState, DecisionRow, HarnessCheck, HarnessFailure, HarnessStatus, HealthState,
    ProviderStatus, ProvidersView, TestCallReport,
};
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::auth::Can;
use engine::identity::Permission;

use crate::api::{get_providers, CheckHarness, TestProvider};
use crate::components::{duration_text, format_utc, live_tick, ErrorBanner};

/// How often the page reloads its data after hydration.
const REFRESH_MS: u64 = 2_000;

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let test = ServerAction::<TestProvider>::new();
    let check = ServerAction::<CheckHarness>::new();
    let tick = live_tick(REFRESH_MS);
    let data = Resource::new(
        move || (tick.get(), test.version().get()),
        |_| get_providers(),
    );

    view! {
        <section class="page-head">
            <div>
                <h1>"Providers"</h1>
                <p class="lede">
                    "Where model calls go, whether they work, and what the router decided. "
                    "A model that fails is cooled down for every agent; a cooled-down model gets no "
                    "calls until its time is up, then one probe."
                </p>
            </div>
        </section>
        <TestResult test/>
        <CheckResult check/>
        <Transition fallback=|| view! { <p class="loading">"Loading providers…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view) => view! { <ProviderCards view test check/> }.into_any(),
                    Err(e) => view! { <ErrorBanner error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ProviderCards(
    view: ProvidersView,
    test: ServerAction<TestProvider>,
    check: ServerAction<CheckHarness>,
) -> impl IntoView {
    let ProvidersView {
        now_ms,
        providers,
        harnesses,
        decisions,
    } = view;
    view! {
        <div class="providers">
            {harnesses.into_iter().map(|h| view! { <HarnessCard h check now_ms/> }).collect_view()}
            {providers.into_iter().map(|p| view! { <ProviderCard p test/> }).collect_view()}
        </div>
        <DecisionTable decisions now_ms/>
    }
}

fn health_badge(health: HealthState) -> (&'static str, &'static str) {
    match health {
        HealthState::Healthy => ("badge ok", "healthy"),
        HealthState::Degraded => ("badge warn", "degraded"),
        HealthState::Down => ("badge bad", "down"),
    }
}

/// `harness_crashed × 14` and friends, or "none".
fn class_chips(counts: &[engine::health::ClassCount], none: &'static str) -> AnyView {
    if counts.is_empty() {
        return view! { <span class="muted">{none}</span> }.into_any();
    }
    counts
        .iter()
        .map(|c| view! { <span class="chip" data-class=c.class.clone()>{c.class.clone()} " × " {c.count}</span> })
        .collect_view()
        .into_any()
}

/// A harness process failure: class, when, and the error text.
#[component]
fn FailureLine(f: HarnessFailure, now_ms: i64) -> impl IntoView {
    view! {
        <code>{f.class.clone()}</code> " "
        <span title=format_utc(f.at_ms)>{duration_text(now_ms - f.at_ms)} " ago"</span>
        <span class="muted">" (" {f.candidate.clone()} ", run " <code>{f.run_id.clone()}</code> ")"</span>
        <div class="detail" data-testid="harness-last-error">{f.detail.clone()}</div>
    }
}

/// The Codex app-server: whether its processes start, shake hands and
/// serve, as prominent as a provider (its crashes take out every candidate
/// it serves while the providers behind it look fine).
#[component]
fn HarnessCard(h: HarnessStatus, check: ServerAction<CheckHarness>, now_ms: i64) -> impl IntoView {
    let (badge_class, badge_text) = health_badge(h.health);
    let failures = class_chips(&h.failures_last_hour, "no crashes or handshake failures");
    let last = match h.last_failure.clone() {
        Some(f) => view! { <FailureLine f now_ms/> }.into_any(),
        None => view! { <span class="muted">"none recorded"</span> }.into_any(),
    };
    let id = h.id.clone();
    view! {
        <article class="card provider harness" data-harness=h.id.clone()>
            <header class="card-head">
                <h2>{h.name.clone()}</h2>
                <span class=badge_class data-testid="health">{badge_text}</span>
                <span class="muted">"harness · " <code>{h.command.clone()}</code></span>
            </header>
            <dl class="facts">
                <dt>"Last hour"</dt>
                <dd>{h.attempts_last_hour} " attempts, " {h.succeeded_last_hour} " succeeded · " {failures}</dd>
                <dt>"Last error"</dt><dd>{last}</dd>
            </dl>
            <Can need=Permission::Operate>
                {
                    let id = id.clone();
                    view! {
                        <ActionForm action=check>
                            <input type="hidden" name="harness" value=id/>
                            <button type="submit" class="button" disabled=move || check.pending().get()>"Check handshake"</button>
                        </ActionForm>
                    }
                }
            </Can>
        </article>
    }
}

#[component]
fn CheckResult(check: ServerAction<CheckHarness>) -> impl IntoView {
    move || {
        if check.pending().get() {
            return view! { <p class="loading" data-testid="check-result">"Starting the app-server…"</p> }
                .into_any();
        }
        match check.value().get() {
            None => ().into_any(),
            Some(Err(e)) => view! { <ErrorBanner error=e/> }.into_any(),
            Some(Ok(checks)) => view! { <CheckReport checks/> }.into_any(),
        }
    }
}

#[component]
fn CheckReport(checks: Vec<HarnessCheck>) -> impl IntoView {
    let ok = checks.iter().all(|c| c.ok);
    view! {
        <section class="card test-result" data-testid="check-result" data-ok=ok.to_string()>
            <header class="card-head"><h2>"Codex app-server handshake"</h2></header>
            {checks.is_empty().then(|| view! { <p class="muted">"No agent runs candidates in the Codex harness."</p> })}
            <ul class="decisions-inline">
                {checks.into_iter().map(|c| {
                    let outcome = if c.ok {
                        view! { <span class="badge ok">"ok"</span> " " {c.handshake_ms.unwrap_or(0)} " ms" }.into_any()
                    } else {
                        view! {
                            <span class="badge bad">"failed"</span> " " <code>{c.class.clone().unwrap_or_default()}</code>
                            " " <span class="detail">{c.detail.clone().unwrap_or_default()}</span>
                        }.into_any()
                    };
                    view! { <li><strong>{c.agent.clone()}</strong> " " {outcome}</li> }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
fn ProviderCard(p: ProviderStatus, test: ServerAction<TestProvider>) -> impl IntoView {
    let (badge_class, badge_text) = health_badge(p.health);
    let circuit = match p.circuit.state {
        CircuitState::Closed => format!("closed ({} failures in a row)", p.circuit.failures),
        CircuitState::Open => format!(
            "open until {} after {} failures in a row",
            p.circuit.open_until_ms.map(format_utc).unwrap_or_default(),
            p.circuit.failures
        ),
        CircuitState::HalfOpen => "half-open: the next call is a single probe".to_owned(),
    };
    let failures = class_chips(&p.failures_last_hour, "no failures");
    let provider_id = p.id.clone();
    let cooldowns = p.cooldowns.clone();
    // The harness serving it failed on its newest attempt: say so above the
    // circuit (which counts only the provider's own failures) and on every
    // model, instead of "available".
    let harness_down = p.harness_failure.clone();
    let harness_banner = harness_down.clone().map(|f| view! {
        <div class="banner banner-error" data-testid="harness-down">
            <strong>"Harness down: "</strong> <code>{f.class.clone()}</code>
            " — its newest attempt failed in the harness process; no model here can be served until it starts again. "
            <span class="detail">{f.detail.clone()}</span>
        </div>
    });
    view! {
            <article class="card provider" data-provider=p.id.clone()>
                <header class="card-head">
                    <h2>{p.id.clone()}</h2>
                    <span class=badge_class data-testid="health">{badge_text}</span>
                    <span class="muted">{p.kind.as_str()} " · " {p.endpoint.clone()}</span>
                </header>
                {harness_banner}
                <dl class="facts">
                    <dt>"Circuit"</dt><dd data-testid="circuit">{circuit}</dd>
                    <dt>"Last hour"</dt>
                    <dd>{p.calls_last_hour} " calls, " {p.succeeded_last_hour} " succeeded · " {failures}</dd>
                    <dt>"In flight"</dt><dd>{p.in_flight} " of " {p.concurrency}</dd>
                </dl>
                <table class="models">
                    <thead><tr><th scope="col">"Model"</th><th scope="col">"State"</th><th scope="col"></th></tr></thead>
                    <tbody>
                        {p.models.into_iter().map(|model| {
                            let provider_id = provider_id.clone();
                            let cooling = cooldowns.iter().find(|c| c.model == model).cloned();
                            let state = match cooling {
                                Some(c) => view! {
                                    <span class="badge warn">"cooling down"</span> " "
                                    <span data-testid="cooldown-left">{duration_text(c.left_ms)} " left"</span>
                                    <span class="muted">" (until " {format_utc(c.until_ms)} ") · "</span>
                                    <code>{c.reason.clone()}</code>
                                    <div class="detail">{c.detail.clone()}</div>
                                }.into_any(),
                                None => match &harness_down {
                                    Some(f) => view! {
                                        <span class="badge bad">"unavailable"</span> " "
                                        <span class="muted">"harness " <code>{f.class.clone()}</code></span>
                                    }.into_any(),
                                    None => view! { <span class="muted">"available"</span> }.into_any(),
                                },
                            };
                            let (row_model, shown_model) = (model.clone(), model.clone());
                            view! {
                                <tr data-model=row_model>
                                    <td><code>{shown_model}</code></td>
                                    <td>{state}</td>
                                    <td>
                                        <Can need=Permission::Operate>
                                            {
     let provider_id = provider_id.clone();
     let model = model.clone();
     view! {
    <ActionForm action=test>
                                                <input type="hidden" name="provider" value=provider_id/>
                                                <input type="hidden" name="model" value=model/>
                                                <button type="submit" class="button" disabled=move || test.pending().get()>"Test call"</button>
                                            </ActionForm>
    }
    }
                                        </Can>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </article>
        }
}

#[component]
fn TestResult(test: ServerAction<TestProvider>) -> impl IntoView {
    move || {
        if test.pending().get() {
            return view! { <p class="loading" data-testid="test-result">"Calling…"</p> }
                .into_any();
        }
        match test.value().get() {
            None => ().into_any(),
            Some(Err(e)) => view! { <ErrorBanner error=e/> }.into_any(),
            Some(Ok(report)) => view! { <TestReport report/> }.into_any(),
        }
    }
}

#[component]
fn TestReport(report: TestCallReport) -> impl IntoView {
    let outcome = if report.ok {
        view! { <span class="badge ok">"answered"</span> " " <q>{report.text.clone().unwrap_or_default()}</q> }.into_any()
    } else {
        view! {
            <span class="badge bad">"failed"</span> " " <code>{report.reason.clone().unwrap_or_default()}</code>
            " " <span>{report.message.clone().unwrap_or_default()}</span>
        }
        .into_any()
    };
    view! {
        <section class="card test-result" data-testid="test-result" data-ok=report.ok.to_string()>
            <header class="card-head">
                <h2>"Test call to " <code>{report.model.clone()}</code></h2>
                <span class="muted">{report.latency_ms} " ms"</span>
            </header>
            <p>{outcome}</p>
            <ol class="decisions-inline">
                {report.decisions.into_iter().map(|d| view! {
                    <li><code>{d.decision}</code> " reason=" <code>{d.reason}</code> " " <span class="muted">{d.detail}</span></li>
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn DecisionTable(decisions: Vec<DecisionRow>, now_ms: i64) -> impl IntoView {
    let body = if decisions.is_empty() {
        view! { <p class="muted">"No model calls yet. Use a Test call button, or wait for a scheduled run."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="decisions">
                    <thead><tr>
                        <th scope="col">"When"</th><th scope="col">"Run"</th><th scope="col">"Decision"</th>
                        <th scope="col">"Candidate"</th><th scope="col">"Reason"</th><th scope="col">"Next"</th>
                        <th scope="col">"Latency"</th><th scope="col">"Detail"</th>
                    </tr></thead>
                    <tbody>
                        {decisions.into_iter().map(|d| view! {
                            <tr class=format!("decision {}", d.decision) data-decision=d.decision.clone()>
                                <td title=format_utc(d.at_ms)>{duration_text(now_ms - d.at_ms)} " ago"</td>
                                <td><code>{d.run_id}</code> " #" {d.attempt}</td>
                                <td><code>{d.decision.clone()}</code></td>
                                <td><code>{d.candidate}</code> <span class="muted">" " {d.harness}</span></td>
                                <td><code>{d.reason}</code></td>
                                <td>{d.next.unwrap_or_else(|| "none".into())}</td>
                                <td>{d.latency_ms} " ms"</td>
                                <td class="detail">{d.detail}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="card">
            <header class="card-head"><h2>"Decisions"</h2><span class="muted">"newest first · live"</span></header>
            {body}
        </section>
    }
}
