//! Logging setup: `RUST_LOG` filters (default `info`), human or JSON lines on
//! stderr; and every line that names a run (`run_id` field) is also kept with
//! that run in the store, for the Run page.

use engine::runs::RunLogLine;
use engine::store::Store;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::cli::LogFormat;

/// Run log lines waiting for the store (the subscriber exists before it).
static RUN_LOGS: OnceLock<Mutex<Option<mpsc::UnboundedReceiver<RunLogLine>>>> = OnceLock::new();

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    // Logs go to stderr; stdout carries only the `listening on` line.
    // Colour only on a terminal: log files and journald get plain text that
    // greps like `reason=rate_limit` match as written.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let fmt = match format {
        LogFormat::Human => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = RUN_LOGS.set(Mutex::new(Some(rx)));
    // Run lines are kept at info and above whatever RUST_LOG says for stderr.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(RunLogLayer { tx }.with_filter(LevelFilter::INFO))
        .try_init();
}

/// Writes captured run log lines to the store, in batches, until the
/// process ends. Does nothing when logging was not initialised (tests).
pub fn spawn_run_log_writer(store: Store) {
    let Some(rx) = RUN_LOGS.get().and_then(|m| m.lock().ok()?.take()) else {
        return;
    };
    tokio::spawn(async move {
        let mut rx = rx;
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, 256).await > 0 {
            if let Err(e) = store.append_run_logs(&batch).await {
                // Not through tracing: that would feed this very loop.
                crate::output::best_effort(
                    crate::output::Stream::Stderr,
                    format_args!("could not store run log lines: {e}"),
                );
            }
            batch.clear();
        }
    });
}

struct RunLogLayer {
    tx: mpsc::UnboundedSender<RunLogLine>,
}

impl<S: tracing::Subscriber> Layer<S> for RunLogLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut v = LineVisitor::default();
        event.record(&mut v);
        let Some(run_id) = v.run_id else { return };
        // A drill's decisions are logged like a run's, but a drill is not a
        // run: its lines stay out of the store (DESIGN §9, docs/DRILL.md).
        if run_id.starts_with("drill:") {
            return;
        }
        let at_ms = engine::clock::Clock::now_ms(&engine::clock::SystemClock);
        let _ = self.tx.send(RunLogLine {
            run_id,
            at_ms,
            level: event.metadata().level().to_string(),
            line: v.line,
        });
    }
}

#[derive(Default)]
struct LineVisitor {
    run_id: Option<String>,
    line: String,
}

impl Visit for LineVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "run_id" => self.run_id = Some(value.to_owned()),
            "message" => self.line.insert_str(0, value),
            name => {
                let _ = write!(self.line, " {name}={value}");
            }
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        match field.name() {
            "run_id" => self.run_id = Some(text.trim_matches('"').to_owned()),
            "message" => self.line.insert_str(0, &text),
            name => {
                let _ = write!(self.line, " {name}={text}");
            }
        }
    }
}
