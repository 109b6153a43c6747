//! Command-line interface. Every flag also reads an environment variable,
//! so a service manager can configure the binary without arguments.

use clap::{Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::settings::{DatabaseUrl, Settings};

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Control plane for fleets of LLM agents"
)]
pub struct Cli {
    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "SWITCHYARD_LOG_FORMAT",
        default_value = "human"
    )]
    pub log_format: LogFormat,

    /// Without a subcommand, `serve` runs with its flags taken from the
    /// environment (this is how `cargo leptos` starts the binary).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web console, REST API and scheduler.
    Serve(Box<ServeArgs>),
    /// Validate, export, diff and roll back the operator config.
    Config {
        #[command(subcommand)]
        command: crate::config_cli::ConfigCommand,
        #[command(flatten)]
        server: crate::config_cli::ServerArgs,
    },
    /// Cron jobs and their runs: list, run now, history, enable/disable, cancel.
    Cron {
        #[command(subcommand)]
        command: crate::cron_cli::CronCommand,
        #[command(flatten)]
        server: crate::config_cli::ServerArgs,
    },
    /// Check the Codex harness (handshake per agent), every provider and
    /// the chains' reachability; exits 1 when a check fails.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: crate::config_cli::ServerArgs,
    },
    /// Console users: list, add, passwd, disable, enable (on the database
    /// directly; how a locked-out operator gets back in).
    Users {
        #[command(subcommand)]
        command: crate::users_cli::UsersCommand,
        #[command(flatten)]
        store: crate::users_cli::StoreArgs,
    },
    /// API tokens: list, create (the secret is printed once), revoke.
    Tokens {
        #[command(subcommand)]
        command: crate::users_cli::TokensCommand,
        #[command(flatten)]
        store: crate::users_cli::StoreArgs,
    },
    /// Fault-injection tools: a scripted OpenAI-compatible provider and a
    /// stand-in Codex app-server.
    Sim {
        #[command(subcommand)]
        command: crate::sim_cli::SimCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory for the embedded SQLite database and other local state.
    #[arg(long, env = "SWITCHYARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Address to listen on. Port 0 picks a free port; the chosen address is
    /// printed as `listening on http://…`.
    #[arg(long, env = "SWITCHYARD_BIND", default_value = "127.0.0.1:3000")]
    pub bind: SocketAddr,

    /// Use PostgreSQL (`postgres://…`) instead of the SQLite file in the data dir.
    #[arg(long, env = "SWITCHYARD_DATABASE_URL")]
    pub database_url: Option<DatabaseUrl>,

    /// Directory holding the built console assets (`pkg/`). Defaults to
    /// `LEPTOS_SITE_ROOT`, then `site/` next to the binary's target directory.
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,

    /// Do not seed the demo fleet into an empty database.
    #[arg(long, env = "SWITCHYARD_NO_DEMO")]
    pub no_demo: bool,

    /// How long a running run's claim holds without a heartbeat (ms); a run
    /// whose server stops heartbeating is reaped by another replica after it.
    /// Heartbeats go out every third of it.
    #[arg(long, env = "SWITCHYARD_LEASE_MS", default_value_t = 30_000, value_parser = clap::value_parser!(i64).range(300..))]
    pub lease_ms: i64,

    /// Scheduled runs running at once across all agents and replicas.
    #[arg(long, env = "SWITCHYARD_CRON_SLOTS", default_value_t = 4, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub cron_slots: i64,

    /// Fires due within this many ms are claimed ahead: their runs are
    /// stored as queued for the fire's instant and start when it comes
    /// (0: claim each fire at its instant).
    #[arg(long, env = "SWITCHYARD_FIRE_LOOKAHEAD_MS", default_value_t = engine::scheduler::DEFAULT_FIRE_LOOKAHEAD_MS, value_parser = clap::value_parser!(i64).range(0..=60_000))]
    pub fire_lookahead_ms: i64,

    /// The URL operators reach this server at (`https://switchyard.example.com`),
    /// repeatable. Requests for other host names are refused (421) and changes
    /// from other origins are refused (403). Loopback names of the bound port
    /// are always accepted. Required when binding to a non-loopback address.
    #[arg(
        long = "public-url",
        env = "SWITCHYARD_PUBLIC_URL",
        value_delimiter = ','
    )]
    pub public_urls: Vec<url::Url>,

    /// A console session unused this long ends (minutes).
    #[arg(long, env = "SWITCHYARD_SESSION_IDLE_MINUTES", default_value_t = 120, value_parser = clap::value_parser!(i64).range(1..=10_080))]
    pub session_idle_minutes: i64,

    /// A console session ends this long after login, used or not (hours).
    #[arg(long, env = "SWITCHYARD_SESSION_MAX_HOURS", default_value_t = 12, value_parser = clap::value_parser!(i64).range(1..=720))]
    pub session_max_hours: i64,

    /// A client must send a request's headers within this many ms of
    /// starting it (or of the previous response, on a kept-alive HTTP/1
    /// connection); slower ones are disconnected.
    #[arg(long, env = "SWITCHYARD_HEADER_TIMEOUT_MS", default_value_t = crate::net::DEFAULT_HEADER_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub header_timeout_ms: u64,

    /// A connection that moves no byte and runs no request for this many ms
    /// is closed.
    #[arg(long, env = "SWITCHYARD_IDLE_TIMEOUT_MS", default_value_t = crate::net::DEFAULT_IDLE_TIMEOUT_MS, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub idle_timeout_ms: u64,

    /// Open connections at once; past it new ones are closed on arrival.
    /// Lowered to fit the open-file limit, with a warning.
    #[arg(long, env = "SWITCHYARD_MAX_CONNECTIONS", default_value_t = crate::net::DEFAULT_MAX_CONNECTIONS, value_parser = parse_at_least_one)]
    pub max_connections: usize,

    /// Live decision streams (`/api/v1/decisions/stream`) at once; past it
    /// the stream answers 503.
    #[arg(long, env = "SWITCHYARD_MAX_SSE_CLIENTS", default_value_t = crate::net::DEFAULT_MAX_SSE_CLIENTS, value_parser = parse_at_least_one)]
    pub max_sse_clients: usize,

    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "SWITCHYARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SWITCHYARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// A reverse proxy (address or network, repeatable; comma-separated in
    /// the environment) whose `Forwarded` / `X-Forwarded-For` /
    /// `X-Forwarded-Proto` headers are believed. From any other peer they
    /// are ignored.
    #[arg(long = "trusted-proxy", env = "SWITCHYARD_TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::net::proxy::parse_trusted_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Boxed: nine optional flags would make every `Command` this large.
    #[command(flatten)]
    pub oidc: Box<OidcArgs>,
}

/// Console login through an OpenID Connect provider (docs/SECURITY.md,
/// "Single sign-on"). All or none: the issuer, the client id, the secret's
/// variable and at least one role mapping.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OidcArgs {
    /// The provider's issuer URL, exactly as its discovery document states
    /// it (`https://login.example.com/realms/ops`). https, or http on a
    /// loopback address.
    #[arg(long, value_name = "URL", env = "SWITCHYARD_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// The client id registered at the provider.
    #[arg(long, value_name = "ID", env = "SWITCHYARD_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// The environment variable holding the client secret (its name, not
    /// the secret: a flag's value shows in `ps`).
    #[arg(long, value_name = "NAME", env = "SWITCHYARD_OIDC_CLIENT_SECRET_ENV")]
    pub oidc_client_secret_env: Option<String>,

    /// Where the provider sends the browser back; register it there.
    /// Default: the first --public-url, else the bound address, followed by
    /// `/auth/oidc/callback`.
    #[arg(long, value_name = "URL", env = "SWITCHYARD_OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<url::Url>,

    /// The claim whose value(s) --oidc-role-map matches: a string or an
    /// array of strings. Default: `groups`.
    #[arg(long, value_name = "CLAIM", env = "SWITCHYARD_OIDC_ROLE_CLAIM")]
    pub oidc_role_claim: Option<String>,

    /// `ROLE=VALUE`: a user whose role claim has VALUE gets ROLE (viewer,
    /// operator or admin); the highest match wins, and a user without one
    /// cannot log in. Repeatable; the variable comma-separated.
    #[arg(
        long,
        value_name = "ROLE=VALUE",
        env = "SWITCHYARD_OIDC_ROLE_MAP",
        value_delimiter = ','
    )]
    pub oidc_role_map: Vec<String>,

    /// The claim that becomes the Switchyard user name. Default:
    /// `preferred_username`; when the provider sends none, `email`, then
    /// `sub`.
    #[arg(long, value_name = "CLAIM", env = "SWITCHYARD_OIDC_USERNAME_CLAIM")]
    pub oidc_username_claim: Option<String>,

    /// Scopes to ask for besides `openid`. Repeatable; the variable
    /// comma-separated. Default: `profile`, `email`; add `groups` where
    /// the provider sends that claim only when asked (Dex, Keycloak).
    #[arg(
        long,
        value_name = "SCOPE",
        env = "SWITCHYARD_OIDC_SCOPE",
        value_delimiter = ','
    )]
    pub oidc_scope: Vec<String>,
}

fn parse_at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{s}` is not a whole number of at least 1")),
    }
}

/// What a config may make this server do (docs/SECURITY.md): set here, by
/// whoever starts the server, and never through the config API.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArgs {
    /// An environment variable configs may reference as a secret
    /// (`{"env": NAME}`), on top of the usual provider keys
    /// (OPENAI_API_KEY, OPENROUTER_API_KEY, OLLAMA_API_KEY, …). Repeatable;
    /// the variable comma-separated.
    #[arg(
        long = "secret-env",
        value_name = "NAME",
        env = "SWITCHYARD_SECRET_ENV",
        value_delimiter = ','
    )]
    pub secret_env: Vec<String>,

    /// Let provider base URLs point at link-local and cloud metadata
    /// addresses (169.254.0.0/16, fe80::/10, metadata.google.internal, …).
    #[arg(long, env = "SWITCHYARD_ALLOW_PRIVATE_BASE_URLS")]
    pub allow_private_base_urls: bool,

    /// A command the Codex harness may run: the program and its arguments,
    /// separated by spaces (`/opt/codex/bin/codex app-server`). Configs may
    /// only name an allowed one; the first is used when they name none.
    /// Repeatable; the variable comma-separated. Default: `codex
    /// app-server`, found on this server's PATH.
    #[arg(
        long = "codex-command",
        value_name = "COMMAND",
        env = "SWITCHYARD_CODEX_COMMAND",
        value_delimiter = ','
    )]
    pub codex_command: Vec<String>,
}

impl PolicyArgs {
    pub fn policy(&self) -> anyhow::Result<engine::config::policy::ServerPolicy> {
        let mut policy = engine::config::policy::ServerPolicy::default()
            .with_secret_env(&self.secret_env)
            .map_err(|e| anyhow::anyhow!("--secret-env: {e}"))?
            .allow_private_base_urls(self.allow_private_base_urls);
        if !self.codex_command.is_empty() {
            let commands = self
                .codex_command
                .iter()
                .map(|c| c.split_whitespace().map(str::to_owned).collect())
                .collect();
            policy = policy
                .with_codex_commands(commands)
                .map_err(|e| anyhow::anyhow!("--codex-command: {e}"))?;
        }
        Ok(policy)
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::telemetry::init(cli.log_format);
    let command = match cli.command {
        Some(command) => command,
        None => Cli::parse_from(["switchyard", "serve"])
            .command
            .expect("serve parses"),
    };
    match command {
        Command::Serve(args) => {
            let settings = Settings::from_args(*args)?;
            crate::serve::run(settings).await
        }
        Command::Config { command, server } => crate::config_cli::run(command, server).await,
        Command::Sim { command } => crate::sim_cli::run(command).await,
        Command::Cron { command, server } => crate::cron_cli::run(command, server).await,
        Command::Doctor { json, server } => crate::doctor_cli::run(json, server).await,
        Command::Users { command, store } => crate::users_cli::run_users(command, store).await,
        Command::Tokens { command, store } => crate::users_cli::run_tokens(command, store).await,
    }
}
