//! What the server allows a config to do, set by its operator on the command
//! line and never by the config itself (docs/SECURITY.md, "Secrets"): which
//! environment variables a config may read as secrets, which base URLs a
//! provider may have, which commands the Codex harness may run, and which
//! directories may not be a workspace.
//!
//! Validation refuses what the policy does not allow, at the field's path;
//! the provider client, the Codex launcher and every secret lookup check
//! again when they act, so a revision stored before a policy change (or
//! written around validation) still cannot reach past it.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};

use super::secret::is_env_name;

/// Secret names every server may read: the usual provider keys.
pub const DEFAULT_SECRET_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "OLLAMA_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "MISTRAL_API_KEY",
    "DEEPSEEK_API_KEY",
    "GROQ_API_KEY",
    "TOGETHER_API_KEY",
    "FIREWORKS_API_KEY",
    "XAI_API_KEY",
    "CODEX_API_KEY",
];

/// The Codex command allowed when the operator names none: `codex` found on
/// the server's `PATH` when it is spawned, as the built-in default.
pub const DEFAULT_CODEX_COMMAND: [&str; 2] = ["codex", "app-server"];

/// Host names of cloud instance-metadata services.
const METADATA_HOSTS: [&str; 5] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Directories no agent may have as its workspace: the root, and the
/// top-level system directories.
const SYSTEM_DIRS: [&str; 17] = [
    "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc",
    "/root", "/run", "/sbin", "/sys", "/usr", "/var",
];
/// Kernel interfaces: nothing under them is a workspace either.
const KERNEL_TREES: [&str; 3] = ["/proc", "/sys", "/dev"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPolicy {
    secret_env: BTreeSet<String>,
    allow_private_base_urls: bool,
    codex_commands: Vec<Vec<String>>,
    data_dir: Option<PathBuf>,
    home_dir: Option<PathBuf>,
}

impl Default for ServerPolicy {
    fn default() -> Self {
        ServerPolicy {
            secret_env: DEFAULT_SECRET_ENV.iter().map(|s| s.to_string()).collect(),
            allow_private_base_urls: false,
            codex_commands: vec![DEFAULT_CODEX_COMMAND.map(String::from).to_vec()],
            data_dir: None,
            home_dir: None,
        }
    }
}

impl ServerPolicy {
    /// Declares more environment variables as readable secrets (on top of
    /// [`DEFAULT_SECRET_ENV`]). A name that cannot be a variable is refused.
    pub fn with_secret_env<S: AsRef<str>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self, String> {
        for name in names {
            let name = name.as_ref().trim();
            if !is_env_name(name) {
                return Err(format!(
                    "`{}` is not an environment variable name (letters, digits and `_`, not starting with a digit)",
                    super::limits::show(name)
                ));
            }
            self.secret_env.insert(name.to_owned());
        }
        Ok(self)
    }

    /// Lets providers use link-local and cloud-metadata addresses.
    pub fn allow_private_base_urls(mut self, allow: bool) -> Self {
        self.allow_private_base_urls = allow;
        self
    }

    /// The Codex commands a config may name, replacing the default; the
    /// first is used when the config names none. Each is a program and its
    /// arguments, compared exactly.
    pub fn with_codex_commands(mut self, commands: Vec<Vec<String>>) -> Result<Self, String> {
        if let Some(bad) = commands
            .iter()
            .find(|c| c.first().is_none_or(|p| p.trim().is_empty()))
        {
            return Err(format!(
                "an allowed Codex command must name a program: {bad:?}"
            ));
        }
        self.codex_commands = commands;
        Ok(self)
    }

    /// The server's data directory (the database lives there) and the home
    /// directory of the user it runs as: neither may be a workspace.
    pub fn with_server_dirs(mut self, data_dir: Option<PathBuf>, home: Option<PathBuf>) -> Self {
        let real = |d: PathBuf| std::fs::canonicalize(&d).unwrap_or_else(|_| resolve(&d));
        self.data_dir = data_dir.map(real);
        self.home_dir = home.map(real);
        self
    }

    pub fn secret_env(&self) -> impl Iterator<Item = &str> {
        self.secret_env.iter().map(String::as_str)
    }

    pub fn codex_commands(&self) -> &[Vec<String>] {
        &self.codex_commands
    }

    /// Whether a config may read environment variable `name` as a secret.
    pub fn check_secret_env(&self, name: &str) -> Result<(), String> {
        if self.secret_env.contains(name) {
            Ok(())
        } else {
            Err(format!(
                "environment variable {} is not declared as a secret this server may read; its operator declares it with `switchyard serve --secret-env {}` (or SWITCHYARD_SECRET_ENV)",
                super::limits::show(name),
                super::limits::show(name)
            ))
        }
    }

    /// A provider's or channel's base URL: http or https, a host, no
    /// credentials in it, and no link-local or metadata address unless
    /// allowed. Loopback and private networks are fine (a local Ollama).
    pub fn check_base_url(&self, url: &str) -> Result<(), String> {
        if url.len() > super::limits::MAX_PATH_LEN {
            return Err(format!(
                "is longer than {} characters",
                super::limits::MAX_PATH_LEN
            ));
        }
        let parsed = url::Url::parse(url).map_err(|e| format!("is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "scheme `{}` is not allowed; use http or https",
                super::limits::show(parsed.scheme())
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                "must not contain credentials (user:password@); use an apiKey reference".into(),
            );
        }
        match parsed.host() {
            None => Err("has no host".into()),
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(name)) => self.check_host_name(name),
        }
    }

    /// A host name before it is resolved.
    pub fn check_host_name(&self, name: &str) -> Result<(), String> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if !self.allow_private_base_urls && METADATA_HOSTS.contains(&name.as_str()) {
            return Err(format!(
                "host `{}` is a cloud metadata service; refused (switchyard serve --allow-private-base-urls allows it)",
                super::limits::show(&name)
            ));
        }
        Ok(())
    }

    /// An address a provider's host resolved to, or one given literally.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        if self.allow_private_base_urls || !is_refused_ip(ip) {
            Ok(())
        } else {
            Err(format!(
                "address {ip} is link-local or a cloud metadata service; refused (switchyard serve --allow-private-base-urls allows it)"
            ))
        }
    }

    /// The program and arguments the Codex harness would run.
    pub fn check_codex_command(&self, command: &[String]) -> Result<(), String> {
        if self.codex_commands.iter().any(|c| c == command) {
            return Ok(());
        }
        let allowed: Vec<String> = self
            .codex_commands
            .iter()
            .map(|c| format!("`{}`", super::limits::show(&c.join(" "))))
            .collect();
        Err(format!(
            "`{}` is not a Codex command this server allows ({}); its operator allows a command with `switchyard serve --codex-command` (or SWITCHYARD_CODEX_COMMAND)",
            super::limits::show(&command.join(" ")),
            if allowed.is_empty() {
                "none".to_owned()
            } else {
                allowed.join(", ")
            }
        ))
    }

    /// The command used when the config names none.
    pub fn default_codex_command(&self) -> Option<&[String]> {
        self.codex_commands.first().map(Vec::as_slice)
    }

    /// A workspace (or `CODEX_HOME` parent): not the root, a top-level
    /// system directory, anything under /proc, /sys or /dev, the data
    /// directory or a directory holding it, or the server user's home.
    /// Relative paths are taken from the server's working directory, as the
    /// tools take them; symbolic links are followed where they exist.
    pub fn check_workspace(&self, path: &str) -> Result<(), String> {
        super::limits::check_line(path, super::limits::MAX_PATH_LEN)?;
        if path.trim().is_empty() {
            return Err("must not be empty".into());
        }
        let lexical = resolve(Path::new(path));
        let real = std::fs::canonicalize(&lexical).unwrap_or_else(|_| lexical.clone());
        for candidate in [&lexical, &real] {
            let shown = candidate.display();
            if SYSTEM_DIRS.iter().any(|d| candidate == Path::new(d)) {
                return Err(format!(
                    "{shown} is a system directory; an agent's workspace must be a directory of its own"
                ));
            }
            if KERNEL_TREES.iter().any(|d| candidate.starts_with(d)) {
                return Err(format!("{shown} is under a kernel interface directory"));
            }
            if let Some(data) = &self.data_dir {
                if data.starts_with(candidate) {
                    return Err(format!(
                        "{shown} holds the server's data directory ({}); an agent could read or change its database",
                        data.display()
                    ));
                }
            }
            if self.home_dir.as_deref() == Some(candidate.as_path()) {
                return Err(format!(
                    "{shown} is the server user's home directory; give the agent a directory of its own"
                ));
            }
        }
        Ok(())
    }
}

/// Link-local (169.254.0.0/16, fe80::/10, where AWS, GCP and Azure serve
/// instance metadata) and the IPv6 metadata address AWS uses.
fn is_refused_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_refused_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_refused_v4(v4);
            }
            let aws = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            (v6.segments()[0] & 0xffc0) == 0xfe80 || v6 == aws
        }
    }
}

fn is_refused_v4(ip: Ipv4Addr) -> bool {
    ip.is_link_local() || ip == Ipv4Addr::new(100, 100, 100, 200)
}

/// Absolute, with `.` and `..` taken out, without touching the file system.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_http_and_not_metadata() {
        let p = ServerPolicy::default();
        for ok in [
            "http://127.0.0.1:9/v1",
            "https://openrouter.ai/api/v1",
            "http://[::1]:11434",
            "http://10.0.0.5:11434/v1",
        ] {
            p.check_base_url(ok).unwrap();
        }
        for (bad, words) in [
            ("file:///etc/passwd", "scheme `file`"),
            ("http://169.254.169.254/latest", "169.254.169.254"),
            ("http://[fe80::1]/", "fe80::1"),
            ("http://[fd00:ec2::254]/", "fd00:ec2::254"),
            ("http://[::ffff:169.254.169.254]/", "169.254.169.254"),
            ("http://metadata.google.internal./", "metadata"),
            ("http://user:pw@example.com/", "credentials"),
            ("gopher://example.com/", "scheme"),
        ] {
            let e = p.check_base_url(bad).unwrap_err();
            assert!(e.contains(words), "{bad}: {e}");
        }
        let open = ServerPolicy::default().allow_private_base_urls(true);
        open.check_base_url("http://169.254.169.254/").unwrap();
        assert!(open.check_base_url("file:///x").is_err());
    }

    #[test]
    fn workspaces_are_not_system_or_server_directories() {
        let data = tempfile::tempdir().unwrap();
        let p = ServerPolicy::default()
            .with_server_dirs(Some(data.path().join("data")), Some("/home/ops".into()));
        for bad in [
            "/", "//", "/etc", "/usr/", "/proc/1", "/sys", "/dev/shm", "/root", "/boot", "/tmp/..",
        ] {
            assert!(p.check_workspace(bad).is_err(), "{bad}");
        }
        assert!(p.check_workspace("/home/ops").is_err());
        assert!(p
            .check_workspace(&data.path().join("data").display().to_string())
            .is_err());
        assert!(p
            .check_workspace(&data.path().display().to_string())
            .unwrap_err()
            .contains("data directory"));
        for ok in ["/srv/agents/ceo", "/home/ops/agents/builder", "/tmp/ws"] {
            p.check_workspace(ok).unwrap();
        }
        p.check_workspace(&data.path().join("data/workspaces/qa").display().to_string())
            .unwrap();
    }

    #[test]
    fn secret_names_and_codex_commands_must_be_declared() {
        let p = ServerPolicy::default()
            .with_secret_env(["ACME_KEY"])
            .unwrap();
        p.check_secret_env("ACME_KEY").unwrap();
        p.check_secret_env("OPENAI_API_KEY").unwrap();
        assert!(p
            .check_secret_env("HOME")
            .unwrap_err()
            .contains("--secret-env HOME"));
        assert!(ServerPolicy::default().with_secret_env(["A-B"]).is_err());
        let cmd = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        p.check_codex_command(&cmd("codex app-server")).unwrap();
        let e = p.check_codex_command(&cmd("sh -c id")).unwrap_err();
        assert!(e.contains("--codex-command"), "{e}");
    }
}
