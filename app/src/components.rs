//! Small view pieces shared by pages.

use engine::config::{Choice, Harness, HarnessFallback, ModelRef, Reach, Runtime, Source};
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::SetAgentHarness;
use crate::error::AppError;

/// Counts the times `action` succeeded. Pages reload their data on it, so a
/// refused save (a conflict, a bad value) keeps what the operator typed.
pub fn successes<A, T, E>(action: ServerAction<A>) -> RwSignal<u32>
where
    A: leptos::server_fn::ServerFn<Output = T, Error = E> + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    let count = RwSignal::new(0u32);
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            count.update(|n| *n += 1);
        }
    });
    count
}

/// Where a value came from, as a small tag next to it.
#[component]
pub fn SourceTag(source: Source) -> impl IntoView {
    let (class, text, title) = match source {
        Source::Agent => ("src src-agent", "agent", "Set on this agent"),
        Source::Defaults => (
            "src src-defaults",
            "inherited",
            "Inherited from agents.defaults",
        ),
        Source::Builtin => (
            "src src-builtin",
            "built-in",
            "Neither the agent nor the defaults set it; Switchyard's built-in default applies",
        ),
    };
    view! { <span class=class title=title data-source=source_name(source)>{text}</span> }
}

pub fn source_name(source: Source) -> &'static str {
    match source {
        Source::Agent => "agent",
        Source::Defaults => "defaults",
        Source::Builtin => "builtin",
    }
}

/// A model reference with its provider set apart.
#[component]
pub fn ModelName(model: ModelRef) -> impl IntoView {
    view! {
        <span class="model" title=model.to_string()>
            <span class="model-provider">{model.provider().to_string()}</span>
            <span class="model-sep">"/"</span>
            <span class="model-id">{model.model().to_owned()}</span>
        </span>
    }
}

/// An error from the engine, with each problem at its JSON path.
#[component]
pub fn ErrorBanner(error: AppError) -> impl IntoView {
    view! {
        <div class="banner banner-error" role="alert" data-code=error.code.clone()>
            <strong>{error.message.clone()}</strong>
            {(!error.details.is_empty()).then(|| view! {
                <ul class="problems">
                    {error.details.iter().map(|p| view! {
                        <li><code>{p.path.clone()}</code>" — "{p.message.clone()}</li>
                    }).collect_view()}
                </ul>
            })}
        </div>
    }
}

/// Which harness a candidate runs in when nothing is broken, or that it never runs.
#[component]
pub fn ReachTag(reach: Option<Reach>) -> impl IntoView {
    reach.map(|reach| {
        let (class, text, title) = match reach {
            Reach::Runs(Harness::Codex) => (
                "harness harness-codex",
                "codex",
                "Runs in the Codex app-server".to_owned(),
            ),
            Reach::Runs(Harness::Native) => (
                "harness harness-native",
                "native",
                "Runs in Switchyard's native engine".to_owned(),
            ),
            Reach::Skipped(reason) => (
                "harness harness-never",
                "never runs",
                format!("Never attempted: {}", reason.as_str()),
            ),
        };
        view! { <span class=class title=title>{text}</span> }
    })
}

/// One form per agent, one submit button per value: a plain HTML form post
/// without JavaScript, an in-place server call with it.
#[component]
pub fn FallbackSwitch(
    agent: String,
    current: HarnessFallback,
    source: Source,
    runtime: Runtime,
    set_harness: ServerAction<SetAgentHarness>,
) -> impl IntoView {
    let pending = set_harness.pending();
    let label = format!("Harness fallback for {agent}");
    let dimmed = runtime == Runtime::Pi;
    view! {
        <ActionForm action=set_harness attr:class="switch-form">
            <input type="hidden" name="agent" value=agent.clone()/>
            <div class="segmented" role="group" aria-label=label class:dimmed=dimmed>
                {HarnessFallback::ALL.iter().map(|&value| {
                    let on = value == current;
                    view! {
                        <button
                            type="submit"
                            name="fallback"
                            value=value.as_str()
                            class="seg"
                            class:on=on
                            aria-pressed=if on { "true" } else { "false" }
                            title=fallback_help(value)
                            disabled=move || pending.get()
                        >
                            {value.as_str()}
                        </button>
                    }
                }).collect_view()}
            </div>
            " " <SourceTag source/>
            {(source == Source::Agent).then(|| view! {
                <button type="submit" name="fallback" value="inherit" class="link-button"
                    title="Drop this agent's override and use the default" disabled=move || pending.get()>
                    "reset"
                </button>
            })}
        </ActionForm>
    }
}

/// What each `embeddedHarness.fallback` value does, in the words of DESIGN §2.
pub fn fallback_help(value: HarnessFallback) -> &'static str {
    match value {
        HarnessFallback::Pi => "pi: candidates the Codex harness cannot serve, and everything after a Codex crash, run in the native engine",
        HarnessFallback::Codex => "codex: Codex only; other candidates are skipped; one supervised restart after a crash",
        HarnessFallback::None => "none: candidates the Codex harness cannot serve are skipped; a Codex crash fails the run",
    }
}

/// `2026-11-25 17:30:12 UTC` from Unix milliseconds, without a date library
/// in the wasm bundle (days-to-civil from Howard Hinnant's algorithms).
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_times() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00:00 UTC");
        // runningAtMs from the seed: 2026-04-21T09:47:24.708Z
        assert_eq!(
            super::format_utc(1_776_764_844_708),
            "2026-04-21 09:47:24 UTC"
        );
        assert_eq!(
            super::format_utc(951_782_400_000),
            "2000-02-29 00:00:00 UTC"
        );
    }
}

/// A counter that ticks every `ms` once the page has hydrated; resources
/// keyed on it refetch, which is how pages update live. Server rendering
/// never ticks (effects run only in the browser).
pub fn live_tick(ms: u64) -> RwSignal<u32> {
    live_tick_while(ms, Signal::stored(true))
}

/// [`live_tick`] that ticks only while `active` holds: a page whose subject
/// can no longer change (a finished run, a run that does not exist) stops
/// asking the server every second.
pub fn live_tick_while(ms: u64, active: Signal<bool>) -> RwSignal<u32> {
    let tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        // Re-run when `active` changes; the previous interval is cleared
        // by its cleanup first.
        if !active.get() {
            return;
        }
        let handle = set_interval_with_handle(
            move || tick.update(|n| *n = n.wrapping_add(1)),
            std::time::Duration::from_millis(ms),
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
    tick
}

/// `1m 28s` from milliseconds.
pub fn duration_text(ms: i64) -> String {
    if ms < 1000 {
        return format!("{} ms", ms.max(0));
    }
    let s = ms / 1000;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

/// The router's decisions in order: a run's attempts, a drill's trail.
#[component]
pub fn DecisionTimeline(decisions: Vec<engine::health::DecisionRow>) -> impl IntoView {
    view! {
        <table class="decisions timeline">
            <thead><tr><th scope="col">"#"</th><th scope="col">"Candidate"</th><th scope="col">"Harness"</th>
                <th scope="col">"Decision"</th><th scope="col">"Reason"</th><th scope="col">"Next"</th>
                <th scope="col">"Latency"</th><th scope="col">"Detail"</th></tr></thead>
            <tbody>
                {decisions.into_iter().map(|d| view! {
                    <tr class=format!("decision {}", d.decision) data-decision=d.decision.clone()>
                        <td>{d.attempt}</td><td><code>{d.candidate}</code></td><td>{d.harness}</td>
                        <td><code>{d.decision.clone()}</code></td><td><code>{d.reason}</code></td>
                        <td>{d.next.unwrap_or_else(|| "none".into())}</td><td>{d.latency_ms} " ms"</td>
                        <td class="detail">{d.detail}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// A run status as a coloured badge.
#[component]
pub fn StatusBadge(status: engine::runs::RunStatus) -> impl IntoView {
    use engine::runs::RunStatus::*;
    let class = match status {
        Ok => "badge ok",
        Error | Timeout => "badge bad",
        Running | Queued => "badge warn",
        Cancelled | Skipped => "badge",
    };
    view! { <span class=class data-status=status.as_str()>{status.as_str()}</span> }
}
