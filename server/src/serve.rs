//! `switchyard serve`: open the store, seed the demo on first start, and serve
//! the console, the API and health checks until Ctrl-C or SIGTERM.

use anyhow::Context;
use axum::Router;
use engine::accounts::Accounts;
use engine::config::policy::ServerPolicy;
use engine::config::validate::ProcessEnv;
use engine::drill::{DrillEnv, Drills};
use engine::fleet::Fleet;
use engine::router::Router as ModelRouter;
use engine::scheduler::{Scheduler, Settings as SchedulerSettings};
use engine::service::Services;
use engine::sim::provider::SimProvider;
use engine::store::Store;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

use crate::auth::guard::Origins;
use crate::settings::{Database, Settings};
use crate::{api, auth, health, AppState};
use engine::harness::codex::{CodexAppServer, CodexEnv};

/// The whole HTTP surface. Separate from [`run`] so tests can drive it.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let services = state.services.clone();
    let sso = auth::oidc::login_button(state.oidc.as_ref());
    // One value for the console, the same the REST API holds; the caller's
    // actor reaches server functions through the request's extensions.
    let context = move || {
        provide_context(services.clone());
        if let Some(sso) = &sso {
            provide_context(sso.clone());
        }
        crate::net::headers::provide_csp_nonce();
    };
    let leptos = state.leptos.clone();
    Router::new()
        .route(
            "/console/fn/{*fn_name}",
            axum::routing::post({
                let context = context.clone();
                move |req| handle_server_fns_with_context(context.clone(), req)
            }),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            app::shell(leptos.clone())
        })
        .merge(api::router())
        .merge(auth::session::router())
        .merge(auth::oidc::router())
        .merge(health::router())
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        // Outermost last: the guard sees every request first, then the
        // caller is identified, then the gate refuses the anonymous.
        .layer(axum::middleware::from_fn(auth::gate::gate))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::identify::identify,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.origins.clone(),
            auth::guard::guard,
        ))
        // The wasm bundle is ~700 KB raw and ~280 KB gzipped.
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(crate::net::security_headers))
        .with_state(state)
}

pub async fn open_store(database: &Database) -> anyhow::Result<Store> {
    match database {
        Database::Sqlite(path) => Store::open_sqlite(path)
            .await
            .with_context(|| format!("opening SQLite database {}", path.display())),
        Database::Postgres(url) => Store::connect_postgres(url.expose(), None)
            .await
            .with_context(|| format!("connecting to {url}")),
    }
}

/// Where per-agent `CODEX_HOME`s go by default, and this binary for the
/// `sim` stand-in.
pub fn codex_env(settings: &Settings, policy: Arc<ServerPolicy>) -> anyhow::Result<CodexEnv> {
    Ok(CodexEnv {
        policy,
        default_home: settings.data_dir.join("codex-home"),
        self_exe: match &settings.self_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().context("locating this binary for the sim Codex")?,
        },
    })
}

/// The operator's policy, plus the directories no workspace may be: the
/// data directory (the database is there) and the home of the user the
/// server runs as.
pub fn server_policy(settings: &Settings) -> Arc<ServerPolicy> {
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .filter(|h| h.is_absolute());
    Arc::new(
        settings
            .policy
            .clone()
            .with_server_dirs(Some(settings.data_dir.clone()), home),
    )
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("binding {}", settings.bind))?;
    serve(settings, listener, shutdown_signal()).await
}

/// Kills the process groups (Codex app-servers, tools' shells and what they
/// started) that a previous server on this data dir left when it was killed
/// without a chance to clean up, then records this process's own groups
/// there. Before anything is spawned. A failure is logged, not fatal: the
/// server can serve without it, only a later kill -9 could leave strays.
fn reap_process_groups(root: &std::path::Path) {
    use engine::process::registry;
    match registry::reap_orphans(root) {
        Ok(reaped) => {
            for group in reaped {
                tracing::warn!(
                    pgid = group.pgid,
                    processes = group.processes,
                    owner = %group.owner,
                    "killed a process group left by a previous server process"
                );
            }
        }
        Err(e) => {
            tracing::warn!(dir = %root.display(), error = %e, "could not reap process groups of a previous server process")
        }
    }
    if let Err(e) = registry::init(root) {
        tracing::warn!(dir = %root.display(), error = %e, "cannot record process groups; a kill -9 of the server could leave tools or Codex running");
    }
}

/// Serves on an already-bound listener until `shutdown` completes.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&settings.database).await?;
    crate::telemetry::spawn_run_log_writer(store.clone());
    reap_process_groups(&settings.data_dir.join("process-groups"));
    let clock: engine::clock::SharedClock = Arc::new(engine::clock::SystemClock);
    let policy = server_policy(&settings);
    let fleet = Fleet::new(store.clone(), clock.clone()).with_server_policy(policy.clone());
    // The in-process sim serves `kind: sim` providers (the demo fleet's): on
    // loopback, on a port of its own, so it is real HTTP like any provider.
    let sim = SimProvider::start(([127, 0, 0, 1], 0).into())
        .await
        .context("starting the in-process sim provider")?;
    tracing::info!(base_url = %sim.base_url(), "sim provider ready");
    let codex = Arc::new(CodexAppServer::new(codex_env(&settings, policy.clone())?));
    let model_router = Arc::new(
        ModelRouter::new(store.clone(), clock.clone(), Arc::new(ProcessEnv))
            .with_sim(Arc::new(sim))
            .with_codex(codex.clone())
            .with_server_policy(policy),
    );
    if settings.seed_demo
        && fleet
            .seed_if_empty(&engine::sim::demo::fleet_config(), "switchyard")
            .await?
    {
        tracing::info!("empty database: seeded the demo fleet");
    }
    let addr = listener.local_addr()?;
    let origins = Arc::new(Origins::new(
        addr,
        &settings.public_urls,
        settings.transport.tls.is_some(),
    ));
    let oidc = match &settings.oidc {
        Some(oidc) => Some(Arc::new(single_sign_on(oidc, &settings, addr, &origins)?)),
        None => None,
    };
    let leptos = LeptosOptions::builder()
        .output_name("switchyard")
        .site_root(settings.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build();
    let scheduler = Scheduler::new(
        fleet.clone(),
        model_router.clone(),
        clock.clone(),
        SchedulerSettings {
            workspaces: settings.data_dir.join("workspaces"),
            lease_ms: settings.lease_ms,
            heartbeat_every: std::time::Duration::from_millis((settings.lease_ms / 3) as u64),
            cron_slots: settings.cron_slots,
            fire_lookahead_ms: settings.fire_lookahead_ms,
            ..SchedulerSettings::default()
        },
    );
    // Reap what a previous process left running before serving anything,
    // so no page ever shows a run "running" whose process is gone.
    let reaped = scheduler.reap().await?;
    if !reaped.is_empty() {
        tracing::warn!(
            count = reaped.len(),
            "closed runs left running by a previous process"
        );
    }
    let stop_scheduler = tokio_util::sync::CancellationToken::new();
    let scheduler_task = scheduler.spawn(stop_scheduler.clone());
    let drills = Drills::new(
        fleet.clone(),
        DrillEnv::new(codex.env().self_exe.clone(), model_router.policy().clone()),
    );
    let accounts = Accounts::new(store.clone(), clock.clone(), settings.session_policy());
    bootstrap_admin(
        &accounts,
        settings.admin_password.as_ref().map(|p| p.0.as_str()),
    )
    .await?;
    let scheduler_handle = scheduler.clone();
    let services = Services::new(engine::service::Parts {
        fleet,
        router: model_router,
        scheduler,
        drills,
        codex,
        accounts,
        clock: clock.clone(),
    });
    if let Some(oidc) = &oidc {
        tokio::spawn({
            let oidc = oidc.clone();
            async move { oidc.warm_up().await }
        });
    }
    let state = AppState {
        oidc,
        services,
        leptos,
        origins,
        secure_cookies: settings.secure_cookies(),
        session_max_age_s: settings.session_policy().absolute_ms / 1000,
    };
    tracing::info!(
        database = store.backend_name(),
        site_root = %settings.site_root.display(),
        "switchyard ready"
    );
    // Printed (not only logged) so scripts and browser tests that bind port 0
    // can read the address whatever the log settings.
    crate::output::best_effort(
        crate::output::Stream::Stdout,
        format_args!("listening on {}://{addr}", settings.transport.scheme()),
    );
    // The signal stops the scheduler at once, not after the HTTP side has
    // drained (an open event stream can hold that up): in-flight runs are
    // cancelled and recorded as ended before the store closes, instead of
    // staying `running` until the next start reaps them.
    let stopping = tokio_util::sync::CancellationToken::new();
    tokio::spawn({
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            stopping.cancel();
        }
    });
    let runs_stopped = tokio::spawn({
        let stopping = stopping.clone();
        let scheduler = scheduler_handle.clone();
        async move {
            stopping.cancelled().await;
            stop_scheduler.cancel();
            let _ = scheduler_task.await;
            scheduler
                .shutdown(tokio::time::sleep(engine::scheduler::SHUTDOWN_GRACE))
                .await
        }
    });
    crate::net::serve(
        listener,
        router(state),
        &settings.transport,
        stopping.cancelled_owned(),
    )
    .await?;
    let ended = runs_stopped.await.unwrap_or_default();
    if !ended.is_empty() {
        tracing::info!(
            runs = ended.len(),
            "runs in flight ended: {}",
            engine::scheduler::SHUTDOWN_REASON
        );
    }
    store.close().await;
    Ok(())
}

/// The OpenID client, with its redirect URL: as given, or the first public
/// URL, or the bound address, followed by the callback path. It must be a
/// name this server answers to, or the provider's answer would be refused.
fn single_sign_on(
    oidc: &crate::settings::OidcSettings,
    settings: &Settings,
    bound: std::net::SocketAddr,
    origins: &Origins,
) -> anyhow::Result<auth::oidc::Oidc> {
    let redirect = match &oidc.redirect_url {
        Some(url) => url.clone(),
        None => {
            let base = match settings.public_urls.first() {
                Some(url) => url.origin().ascii_serialization(),
                None => format!("http://{bound}"),
            };
            url::Url::parse(&format!("{base}{}", auth::oidc::CALLBACK_PATH))
                .context("building the OpenID redirect URL")?
        }
    };
    let authority = match (redirect.host_str(), redirect.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    };
    if !origins.allows_host(&authority) {
        anyhow::bail!(
            "--oidc-redirect-url {redirect}: this server does not answer to `{authority}`; \
             add it with --public-url"
        );
    }
    let client =
        auth::oidc::Oidc::new(oidc.clone(), redirect).context("setting up the OpenID client")?;
    tracing::info!(
        issuer = %oidc.issuer,
        redirect_url = client.redirect_url(),
        "single sign-on on"
    );
    Ok(client)
}

/// A database without users gets `admin`, with the password in
/// `SWITCHYARD_ADMIN_PASSWORD` or a generated one printed once here (on
/// stderr, not through the log pipeline, so it is not kept in log stores).
async fn bootstrap_admin(accounts: &Accounts, from_env: Option<&str>) -> anyhow::Result<()> {
    match accounts.bootstrap_admin(from_env).await {
        Ok(Some(generated)) => {
            crate::output::best_effort(
                crate::output::Stream::Stderr,
                format_args!(
                "\n  first start: created user `admin` (role admin) with the one-time password\n\n      {generated}\n\n  log in at the console and change it with `switchyard users passwd admin`;\n  it is not shown again.\n"
                ),
            );
            Ok(())
        }
        Ok(None) => {
            if from_env.is_some() {
                tracing::info!("users exist; SWITCHYARD_ADMIN_PASSWORD is only read on a database without users");
            }
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("creating the first admin user: {e}")),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
