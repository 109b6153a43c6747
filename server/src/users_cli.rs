//! `switchyard users …` and `switchyard tokens create|list|revoke`: account
//! administration straight on the database (the same `--data-dir` or
//! `--database-url` as `serve`). Whoever can read the database can already
//! do anything, so these need no login; they are how a locked-out operator
//! gets back in. Each change is in the audit log as `cli`.

use anyhow::{bail, Context};
use clap::Subcommand;
use engine::identity::{Actor, Role, Scope, TokenRequest};
use engine::store::NewAuditEvent;
use std::path::PathBuf;

use crate::settings::{Database, DatabaseUrl};

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The data dir whose SQLite file to use.
    #[arg(
        long,
        env = "SWITCHYARD_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL database instead.
    #[arg(long, env = "SWITCHYARD_DATABASE_URL", global = true)]
    pub database_url: Option<DatabaseUrl>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Every user with role and state.
    List,
    /// Add a user. The password is read from stdin (one line), or from the
    /// environment variable named by --password-env.
    Add {
        name: String,
        #[arg(long, default_value = "viewer")]
        role: String,
        #[arg(long)]
        password_env: Option<String>,
    },
    /// Set a new password (stdin or --password-env); the user's sessions end.
    Passwd {
        name: String,
        #[arg(long)]
        password_env: Option<String>,
    },
    /// Disable a user; their sessions end at once.
    Disable { name: String },
    /// Let a disabled user log in again.
    Enable { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Every token (never their secrets).
    List,
    /// Create a token and print its secret once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "viewer")]
        role: String,
        /// Narrow to these agents (comma-separated).
        #[arg(long, value_delimiter = ',')]
        agents: Vec<String>,
        #[arg(long)]
        read_only: bool,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Revoke a token by id.
    Revoke { id: String },
}

async fn open(args: &StoreArgs) -> anyhow::Result<engine::accounts::Accounts> {
    let database = match &args.database_url {
        Some(url) => Database::Postgres(url.clone()),
        None => Database::Sqlite(args.data_dir.join("switchyard.db")),
    };
    if let Database::Sqlite(path) = &database {
        if !path.exists() {
            bail!(
                "no database at {} (start `switchyard serve` once, or pass --data-dir / --database-url)",
                path.display()
            );
        }
    }
    let store = crate::serve::open_store(&database).await?;
    let clock: engine::clock::SharedClock = std::sync::Arc::new(engine::clock::SystemClock);
    Ok(engine::accounts::Accounts::new(
        store,
        clock,
        engine::accounts::SessionPolicy::default(),
    ))
}

fn read_password(password_env: Option<&str>) -> anyhow::Result<String> {
    if let Some(var) = password_env {
        return std::env::var(var).with_context(|| format!("reading the password from ${var}"));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

async fn audit(accounts: &engine::accounts::Accounts, action: &str, target: &str) {
    let event = NewAuditEvent {
        at_ms: engine::clock::Clock::now_ms(&engine::clock::SystemClock),
        actor: "cli".into(),
        role: Some("admin".into()),
        address: None,
        action: action.into(),
        target: target.into(),
        result: "ok".into(),
        detail: String::new(),
    };
    if let Err(e) = accounts.store().append_audit(&event).await {
        crate::errln!("warning: could not write the audit log: {e}");
    }
}

pub async fn run_users(command: UsersCommand, args: StoreArgs) -> anyhow::Result<()> {
    let accounts = open(&args).await?;
    match command {
        UsersCommand::List => {
            for u in accounts.users().await? {
                crate::outln!(
                    "{}\t{}\t{}\t{}",
                    u.name,
                    u.role,
                    u.source,
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        UsersCommand::Add {
            name,
            role,
            password_env,
        } => {
            let role: Role = role.parse()?;
            let password = read_password(password_env.as_deref())?;
            accounts.add_user(&name, role, &password).await?;
            audit(&accounts, "user.add", &name).await;
            crate::outln!("added {name} ({role})");
        }
        UsersCommand::Passwd { name, password_env } => {
            let password = read_password(password_env.as_deref())?;
            accounts.set_password(&name, &password).await?;
            audit(&accounts, "user.password", &name).await;
            crate::outln!("password changed for {name}; their sessions ended");
        }
        UsersCommand::Disable { name } => {
            accounts.set_disabled(&name, true).await?;
            audit(&accounts, "user.disable", &name).await;
            crate::outln!("disabled {name}; their sessions ended");
        }
        UsersCommand::Enable { name } => {
            accounts.set_disabled(&name, false).await?;
            audit(&accounts, "user.enable", &name).await;
            crate::outln!("enabled {name}");
        }
    }
    Ok(())
}

pub async fn run_tokens(command: TokensCommand, args: StoreArgs) -> anyhow::Result<()> {
    let accounts = open(&args).await?;
    match command {
        TokensCommand::List => {
            for t in accounts.tokens().await? {
                crate::outln!(
                    "{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.role,
                    if t.revoked_at_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        TokensCommand::Create {
            name,
            role,
            agents,
            read_only,
            expires_in_days,
        } => {
            let request = TokenRequest {
                name: name.clone(),
                role: role.parse()?,
                scope: Scope {
                    agents: (!agents.is_empty()).then_some(agents),
                    read_only,
                },
                expires_in_days,
            };
            let token = accounts
                .create_token(&Actor::system("cli"), &request)
                .await?;
            audit(&accounts, "token.create", &name).await;
            crate::errln!(
                "token {} ({}) created; it is not shown again:",
                token.token.id,
                token.token.role
            );
            crate::outln!("{}", token.secret);
        }
        TokensCommand::Revoke { id } => {
            accounts.revoke_token(&id).await?;
            audit(&accounts, "token.revoke", &id).await;
            crate::outln!("revoked {id}");
        }
    }
    Ok(())
}
