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
    /// Console login through an OpenID provider; `None`: passwords only.
    pub oidc: Option<OidcSettings>,
    /// Timeouts, limits, TLS and trusted proxies of the HTTP transport.
    pub transport: TransportSettings,
}

/// `--oidc-*`: who the provider is, how this server is registered there,
/// and how its claims become a Switchyard user and role.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// As given: discovery and ID tokens must name exactly this issuer.
    pub issuer: String,
    pub client_id: String,
    /// Read from the variable `--oidc-client-secret-env` names.
    pub client_secret: Password,
    /// `None`: derived from the public URL or the bound address at start.
    pub redirect_url: Option<url::Url>,
    pub role_claim: String,
    /// `(role, claim value)`; the highest role with a matching value wins.
    pub role_map: Vec<(engine::identity::Role, String)>,
    pub username_claim: String,
    /// Besides `openid`, which is always asked for.
    pub scopes: Vec<String>,
}

impl OidcSettings {
    pub const DEFAULT_ROLE_CLAIM: &'static str = "groups";
    pub const DEFAULT_USERNAME_CLAIM: &'static str = "preferred_username";

    /// `None` when no `--oidc-*` flag is given; an error naming every
    /// missing flag when only some are (a half-configured login would
    /// otherwise fail only when someone tries it). `env` reads the
    /// client secret's variable.
    pub fn from_args(
        args: &crate::cli::OidcArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<Self>> {
        let any = args.oidc_issuer.is_some()
            || args.oidc_client_id.is_some()
            || args.oidc_client_secret_env.is_some()
            || args.oidc_redirect_url.is_some()
            || args.oidc_role_claim.is_some()
            || !args.oidc_role_map.is_empty()
            || args.oidc_username_claim.is_some()
            || !args.oidc_scope.is_empty();
        if !any {
            return Ok(None);
        }
        let mut missing = Vec::new();
        if args.oidc_issuer.is_none() {
            missing.push("--oidc-issuer (SWITCHYARD_OIDC_ISSUER)");
        }
        if args.oidc_client_id.is_none() {
            missing.push("--oidc-client-id (SWITCHYARD_OIDC_CLIENT_ID)");
        }
        if args.oidc_client_secret_env.is_none() {
            missing.push("--oidc-client-secret-env (SWITCHYARD_OIDC_CLIENT_SECRET_ENV)");
        }
        if args.oidc_role_map.is_empty() {
            missing.push("--oidc-role-map (SWITCHYARD_OIDC_ROLE_MAP)");
        }
        if !missing.is_empty() {
            bail!(
                "OpenID Connect login is only partly configured: missing {}. Give all of \
                 --oidc-issuer, --oidc-client-id, --oidc-client-secret-env and at least one \
                 --oidc-role-map, or none of the --oidc-* flags",
                missing.join(", ")
            );
        }
        let issuer = args.oidc_issuer.clone().unwrap_or_default();
        check_issuer(&issuer)?;
        let client_id = args.oidc_client_id.clone().unwrap_or_default();
        if client_id.trim().is_empty() {
            bail!("--oidc-client-id is empty");
        }
        let secret_env = args.oidc_client_secret_env.clone().unwrap_or_default();
        let client_secret = match env(&secret_env) {
            Some(secret) if !secret.is_empty() => Password(secret),
            _ => bail!(
                "--oidc-client-secret-env {}: the variable `{}` is not set or empty; \
                 put the client secret in it",
                secret_env.escape_debug(),
                secret_env.escape_debug()
            ),
        };
        if let Some(url) = &args.oidc_redirect_url {
            check_redirect_url(url)?;
        }
        let role_map = args
            .oidc_role_map
            .iter()
            .map(|entry| parse_role_map(entry))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let role_claim = claim_name(
            "--oidc-role-claim",
            args.oidc_role_claim.as_deref(),
            Self::DEFAULT_ROLE_CLAIM,
        )?;
        let username_claim = claim_name(
            "--oidc-username-claim",
            args.oidc_username_claim.as_deref(),
            Self::DEFAULT_USERNAME_CLAIM,
        )?;
        let mut scopes = Vec::new();
        let given: Vec<&str> = if args.oidc_scope.is_empty() {
            vec!["profile", "email"]
        } else {
            args.oidc_scope.iter().map(String::as_str).collect()
        };
        for scope in given {
            let ok = !scope.is_empty()
                && scope
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
            if !ok {
                bail!(
                    "--oidc-scope `{}`: a scope is printable ASCII without spaces",
                    scope.escape_debug()
                );
            }
            if scope != "openid" && !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        Ok(Some(OidcSettings {
            issuer,
            client_id,
            client_secret,
            redirect_url: args.oidc_redirect_url.clone(),
            role_claim,
            role_map,
            username_claim,
            scopes,
        }))
    }
}

/// The provider's tokens travel from it to this server: https, except on
/// this machine.
fn check_issuer(issuer: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(issuer)
        .map_err(|e| anyhow::anyhow!("--oidc-issuer `{}`: {e}", issuer.escape_debug()))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    let ok = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => loopback,
        _ => false,
    };
    if !ok {
        bail!(
            "--oidc-issuer `{}`: expected https://host[/path] (http only on a loopback address)",
            issuer.escape_debug()
        );
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        bail!(
            "--oidc-issuer `{}`: an issuer has no query, fragment or credentials",
            issuer.escape_debug()
        );
    }
    Ok(())
}

fn check_redirect_url(url: &url::Url) -> anyhow::Result<()> {
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.path().ends_with(crate::auth::oidc::CALLBACK_PATH)
    {
        bail!(
            "--oidc-redirect-url {url}: expected http(s)://host[:port]{}",
            crate::auth::oidc::CALLBACK_PATH
        );
    }
    Ok(())
}

/// `admin=switchyard-admins` → (Admin, "switchyard-admins").
pub fn parse_role_map(entry: &str) -> anyhow::Result<(engine::identity::Role, String)> {
    let (role, value) = entry.split_once('=').unwrap_or((entry, ""));
    let role: engine::identity::Role = role.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "--oidc-role-map `{}`: expected ROLE=VALUE with ROLE one of viewer, operator, admin",
            entry.escape_debug()
        )
    })?;
    if value.is_empty() {
        bail!(
            "--oidc-role-map `{}`: expected ROLE=VALUE, the value the role claim must hold",
            entry.escape_debug()
        );
    }
    Ok((role, value.to_owned()))
}

fn claim_name(flag: &str, given: Option<&str>, default: &str) -> anyhow::Result<String> {
    let name = given.unwrap_or(default);
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'));
    if !ok {
        bail!(
            "{flag} `{}`: a claim name is letters, digits and `_-.:/`",
            name.escape_debug()
        );
    }
    Ok(name.to_owned())
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
            oidc: None,
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
        let oidc = OidcSettings::from_args(&args.oidc, |name| std::env::var(name).ok())?;
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
            oidc,
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
    use super::{DatabaseUrl, OidcSettings};
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn oidc(flags: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Option<OidcSettings>> {
        let argv = ["switchyard", "serve"].iter().chain(flags);
        let Some(Command::Serve(args)) = Cli::try_parse_from(argv).unwrap().command else {
            unreachable!()
        };
        OidcSettings::from_args(&args.oidc, |name| {
            env.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const FULL: &[&str] = &[
        "--oidc-issuer",
        "https://login.example.com/realms/ops",
        "--oidc-client-id",
        "switchyard",
        "--oidc-client-secret-env",
        "SY_OIDC_SECRET",
        "--oidc-role-map",
        "admin=sy-admins",
        "--oidc-role-map",
        "operator=sy-ops",
    ];

    #[test]
    fn oidc_is_all_or_none() {
        assert!(oidc(&[], &[]).unwrap().is_none());
        let full = oidc(FULL, &[("SY_OIDC_SECRET", "s3cret")])
            .unwrap()
            .unwrap();
        assert_eq!(full.issuer, "https://login.example.com/realms/ops");
        assert_eq!(full.role_claim, "groups");
        assert_eq!(full.username_claim, "preferred_username");
        assert_eq!(full.scopes, ["profile", "email"]);
        assert_eq!(full.role_map.len(), 2);
        assert!(!format!("{full:?}").contains("s3cret"));

        // Each of the four left out is named.
        for (i, flag) in [
            "--oidc-issuer",
            "--oidc-client-id",
            "--oidc-client-secret-env",
            "--oidc-role-map",
        ]
        .iter()
        .enumerate()
        {
            let partial: Vec<&str> = FULL
                .chunks(2)
                .filter(|pair| pair[0] != *flag)
                .flatten()
                .copied()
                .collect();
            let err = oidc(&partial, &[("SY_OIDC_SECRET", "s")])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("missing {flag} (SWITCHYARD_OIDC_"))
                    || (i > 0 && err.contains(&format!(", {flag} ("))),
                "{flag}: {err}"
            );
        }
        // One stray flag is a partial config too.
        let err = oidc(&["--oidc-role-claim", "roles"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing --oidc-issuer") && err.contains("--oidc-role-map"),
            "{err}"
        );
    }

    #[test]
    fn oidc_values_are_checked() {
        let with = |extra: &[&str], env: &[(&str, &str)]| {
            let mut flags = FULL.to_vec();
            flags.extend_from_slice(extra);
            oidc(&flags, env).map(|_| ()).unwrap_err().to_string()
        };
        let err = with(&[], &[]);
        assert!(
            err.contains("the variable `SY_OIDC_SECRET` is not set"),
            "{err}"
        );
        let err = with(&[], &[("SY_OIDC_SECRET", "")]);
        assert!(err.contains("not set or empty"), "{err}");
        let secret = [("SY_OIDC_SECRET", "s")];
        let err = with(&["--oidc-role-map", "root=x"], &secret);
        assert!(err.contains("--oidc-role-map `root=x`"), "{err}");
        let err = with(&["--oidc-role-map", "admin="], &secret);
        assert!(err.contains("expected ROLE=VALUE"), "{err}");
        let err = with(&["--oidc-username-claim", "a b"], &secret);
        assert!(err.contains("--oidc-username-claim `a b`"), "{err}");
        let err = with(
            &["--oidc-redirect-url", "https://sy.example.com/elsewhere"],
            &secret,
        );
        assert!(err.contains("/auth/oidc/callback"), "{err}");

        // Tokens cross the network from the issuer: https unless loopback.
        let mut plain = FULL.to_vec();
        plain[1] = "http://login.example.com";
        let err = oidc(&plain, &secret).unwrap_err().to_string();
        assert!(err.contains("http only on a loopback address"), "{err}");
        plain[1] = "http://127.0.0.1:5556/dex";
        assert!(oidc(&plain, &secret).unwrap().is_some());
    }

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
