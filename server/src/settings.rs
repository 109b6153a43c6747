//! Bootstrap settings: where to listen and which database to use. Validated
//! once at start-up and immutable afterwards. The operator config (agents,
//! providers, …) is not here: it lives in the database as revisions.

use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::cli::ServeArgs;
use crate::net::{tls::Tls, TransportSettings, TrustedProxies};
use engine::config::policy::ServerPolicy;

/// A database URL. `Debug` and `Display` hide any password.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with the password replaced by `***`.
    pub fn redacted(&self) -> String {
        let s = &self.0;
        let Some(scheme_end) = s.find("://").map(|i| i + 3) else {
            return s.clone();
        };
        let rest = &s[scheme_end..];
        let host_start = rest.find('@');
        let colon = rest.find(':');
        match (colon, host_start) {
            (Some(c), Some(at)) if c < at => {
                format!("{}{}:***{}", &s[..scheme_end], &rest[..c], &rest[at..])
            }
            _ => s.clone(),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl FromStr for DatabaseUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(DatabaseUrl(s.to_owned()))
        } else {
            Err("expected a postgres:// URL; without --database-url the SQLite file in --data-dir is used".into())
        }
    }
}

#[derive(Debug, Clone)]
pub enum Database {
    /// The embedded default: one SQLite file under the data dir.
    Sqlite(PathBuf),
    Postgres(DatabaseUrl),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database: Database,
    pub site_root: PathBuf,
    pub seed_demo: bool,
    pub lease_ms: i64,
    pub cron_slots: i64,
    pub fire_lookahead_ms: i64,
    /// The `switchyard` binary that runs `sim codex-app-server`; this
    /// process's own when `None`. Tests that serve in-process set it, since
    /// their executable is the test harness.
    pub self_exe: Option<PathBuf>,
    /// What configs may make this server do: declared secrets, base URLs,
    /// Codex commands (`serve` adds the data and home directories).
    pub policy: ServerPolicy,
    /// `--public-url`: the names operators reach this server at.
    pub public_urls: Vec<url::Url>,
    pub session_idle_minutes: i64,
    pub session_max_hours: i64,
    /// `SWITCHYARD_ADMIN_PASSWORD`: the first admin's password on a
    /// database without users (otherwise one is generated and printed once).
    pub admin_password: Option<Password>,
    /// Timeouts, limits, TLS and trusted proxies of the HTTP transport.
    pub transport: TransportSettings,
}

/// A password that `Debug` never prints.
#[derive(Clone)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Settings {
    /// Settings for a server on `bind` with the data dir and SQLite file in
    /// `data_dir` and the defaults of `switchyard serve` otherwise; tests
    /// start from this and change what they need.
    pub fn for_data_dir(bind: SocketAddr, data_dir: &std::path::Path) -> Self {
        Settings {
            bind,
            data_dir: data_dir.to_owned(),
            database: Database::Sqlite(data_dir.join("switchyard.db")),
            site_root: data_dir.join("site"),
            seed_demo: true,
            lease_ms: 30_000,
            cron_slots: 4,
            fire_lookahead_ms: engine::scheduler::DEFAULT_FIRE_LOOKAHEAD_MS,
            self_exe: None,
            public_urls: Vec::new(),
            session_idle_minutes: 120,
            session_max_hours: 12,
            admin_password: None,
            policy: ServerPolicy::default(),
            transport: TransportSettings::default(),
        }
    }

    pub fn session_policy(&self) -> engine::accounts::SessionPolicy {
        engine::accounts::SessionPolicy {
            idle_ms: self.session_idle_minutes * 60_000,
            absolute_ms: self.session_max_hours * 3_600_000,
        }
    }

    /// Cookies are `Secure` when operators reach the server over https.
    pub fn secure_cookies(&self) -> bool {
        self.transport.tls.is_some() || self.public_urls.iter().any(|u| u.scheme() == "https")
    }

    pub fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        if args.data_dir.exists() && !args.data_dir.is_dir() {
            bail!(
                "--data-dir {} exists and is not a directory",
                args.data_dir.display()
            );
        }
        let database = match args.database_url {
            Some(url) => Database::Postgres(url),
            None => Database::Sqlite(args.data_dir.join("switchyard.db")),
        };
        let site_root = match args.site_root {
            Some(dir) => dir,
            None => default_site_root().context("locating the console assets")?,
        };
        if !args.bind.ip().is_loopback() && args.public_urls.is_empty() {
            bail!(
                "--bind {} listens beyond this machine: give --public-url with the URL operators use \
                 (requests for other host names are refused), and put TLS in front of it \
                 (see docs/SECURITY.md)",
                args.bind
            );
        }
        for url in &args.public_urls {
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                bail!("--public-url {url}: expected http(s)://host[:port]");
            }
        }
        let policy = args.policy.policy()?;
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::load(cert, key)?),
            _ => None,
        };
        let transport = TransportSettings {
            header_timeout: Duration::from_millis(args.header_timeout_ms),
            idle_timeout: Duration::from_millis(args.idle_timeout_ms),
            max_connections: args.max_connections,
            max_sse_clients: args.max_sse_clients,
            tls,
            trusted_proxies: TrustedProxies::new(args.trusted_proxies),
            ..TransportSettings::default()
        };
        Ok(Settings {
            policy,
            public_urls: args.public_urls,
            session_idle_minutes: args.session_idle_minutes,
            session_max_hours: args.session_max_hours,
            admin_password: std::env::var("SWITCHYARD_ADMIN_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty())
                .map(Password),
            bind: args.bind,
            data_dir: args.data_dir,
            database,
            site_root,
            seed_demo: !args.no_demo,
            lease_ms: args.lease_ms,
            cron_slots: args.cron_slots,
            fire_lookahead_ms: args.fire_lookahead_ms,
            self_exe: None,
            transport,
        })
    }

    /// Whether only this machine can connect. Anything else (`0.0.0.0`, a
    /// LAN address) needs `--public-url` and is logged as a warning at start.
    pub fn is_loopback_bind(&self) -> bool {
        crate::net::is_loopback(self.bind.ip())
    }
}

/// `target/release/switchyard` serves `target/site`, wherever it is started
/// from; a binary installed elsewhere falls back to `./target/site`.
fn default_site_root() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    if let Some(target_dir) = exe.parent().and_then(|p| p.parent()) {
        let site = target_dir.join("site");
        if site.join("pkg").is_dir() {
            return Ok(site);
        }
    }
    Ok(PathBuf::from("target/site"))
}

#[cfg(test)]
mod tests {
    use super::DatabaseUrl;

    #[test]
    fn only_loopback_binds_count_as_loopback() {
        let loopback = |bind: &str| {
            super::Settings::for_data_dir(bind.parse().unwrap(), std::path::Path::new("data"))
                .is_loopback_bind()
        };
        assert!(loopback("127.0.0.1:3000"));
        assert!(loopback("[::1]:3000"));
        assert!(loopback("[::ffff:127.0.0.1]:3000"));
        assert!(!loopback("0.0.0.0:3000"));
        assert!(!loopback("[::]:3000"));
        assert!(!loopback("192.168.1.10:3000"));
    }

    #[test]
    fn database_url_never_shows_its_password() {
        let url: DatabaseUrl = "postgres://app:s3cret@db:5432/switchyard".parse().unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/switchyard");
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        let plain: DatabaseUrl = "postgres://postgres@127.0.0.1:5432/test".parse().unwrap();
        assert_eq!(plain.redacted(), "postgres://postgres@127.0.0.1:5432/test");
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }
}
