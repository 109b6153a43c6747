//! Who is calling. Every service method takes an [`Actor`] and asks it for a
//! [`Permission`] before it reads or changes anything, so a REST handler or a
//! server function that forgets a check still cannot get past the engine.
//!
//! Plain data: the console's wasm build uses [`Role`] and [`Whoami`] to hide
//! controls a caller may not use (the server refuses them anyway).

use serde::{Deserialize, Serialize};

use crate::Error;

/// What a caller may do; each role includes the ones below it
/// (see docs/SECURITY.md, "Roles").
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything except secrets, transcripts and run logs.
    Viewer,
    /// Also runs, cancels, enables and disables jobs, flips harness and model
    /// settings, drills, test calls and doctor.
    Operator,
    /// Also users, tokens, providers, channels and the raw config.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(Error::invalid(
                "role",
                format!(
                    "unknown role `{}`; expected viewer, operator or admin",
                    crate::identity::printable(s)
                ),
            )),
        }
    }
}

/// What an action needs. Service methods name one; [`Actor::require`] decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Fleet, config, jobs, runs, providers, decisions: no secrets.
    Read,
    /// Transcripts and run logs: what tools printed may contain anything.
    ReadTranscripts,
    /// Run, cancel, enable/disable, harness and chain changes, drills, test
    /// calls, doctor.
    Operate,
    /// Users, tokens, the raw config (put, import, rollback), the audit log.
    Administer,
}

impl Permission {
    /// The least role that has this permission.
    pub fn role(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::ReadTranscripts | Permission::Operate => Role::Operator,
            Permission::Administer => Role::Admin,
        }
    }

    /// Whether the permission changes something (refused to read-only tokens).
    pub fn writes(self) -> bool {
        matches!(self, Permission::Operate | Permission::Administer)
    }
}

/// How a caller proved who they are.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A console session (password or SSO login).
    User { name: String },
    /// An API token.
    Token { id: String, name: String },
    /// Switchyard itself (the scheduler removing a finished one-shot job,
    /// the demo seed, a CLI run on the server's own database).
    System { name: String },
}

/// Narrows what a token may do below its role.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Only these agents (and their jobs and runs); `None` is every agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<String>>,
    /// Reads only, whatever the role.
    #[serde(default)]
    pub read_only: bool,
}

impl Scope {
    pub fn allows_agent(&self, agent: &str) -> bool {
        self.agents
            .as_ref()
            .is_none_or(|list| list.iter().any(|a| a == agent))
    }
}

/// A caller: who, with which role and scope, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub principal: Principal,
    pub role: Role,
    pub scope: Scope,
    /// The client's address as the transport saw it (after trusted proxies),
    /// for the audit log.
    pub address: Option<String>,
}

impl Actor {
    pub fn user(name: impl Into<String>, role: Role) -> Self {
        Actor {
            principal: Principal::User { name: name.into() },
            role,
            scope: Scope::default(),
            address: None,
        }
    }

    /// Switchyard acting on its own behalf, with every permission.
    pub fn system(name: impl Into<String>) -> Self {
        Actor {
            principal: Principal::System { name: name.into() },
            role: Role::Admin,
            scope: Scope::default(),
            address: None,
        }
    }

    pub fn with_address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    /// How revisions and audit entries name this caller:
    /// `user:alice`, `token:ci-deploy`, `switchyard`.
    pub fn name(&self) -> String {
        match &self.principal {
            Principal::User { name } => format!("user:{name}"),
            Principal::Token { name, .. } => format!("token:{name}"),
            Principal::System { name } => name.clone(),
        }
    }

    /// Refuses unless the role and scope allow `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if self.role < permission.role() {
            return Err(Error::Forbidden {
                message: format!(
                    "{} has role {}; this needs {}",
                    self.name(),
                    self.role,
                    permission.role()
                ),
            });
        }
        if permission.writes() && self.scope.read_only {
            return Err(Error::Forbidden {
                message: format!("{} is a read-only token", self.name()),
            });
        }
        Ok(())
    }

    /// [`Actor::require`], and the scope must include `agent`.
    pub fn require_agent(&self, permission: Permission, agent: &str) -> Result<(), Error> {
        self.require(permission)?;
        if !self.scope.allows_agent(agent) {
            return Err(Error::Forbidden {
                message: format!(
                    "{} is not allowed to act on agent `{}`",
                    self.name(),
                    printable(agent)
                ),
            });
        }
        Ok(())
    }

    /// Whether the scope is narrowed to some agents (list views filter then).
    pub fn sees_every_agent(&self) -> bool {
        self.scope.agents.is_none()
    }

    pub fn whoami(&self) -> Whoami {
        Whoami {
            name: self.name(),
            role: self.role,
            read_only: self.scope.read_only,
        }
    }
}

/// What the console needs to know about its caller.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Whoami {
    pub name: String,
    pub role: Role,
    pub read_only: bool,
}

impl Whoami {
    pub fn can(&self, permission: Permission) -> bool {
        self.role >= permission.role() && !(permission.writes() && self.read_only)
    }
}

/// A user as shown to admins (no hash).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// `password`, or `oidc:<issuer>`.
    pub source: String,
    pub created_at_ms: i64,
}

/// A token as shown to admins: never its secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub scope: Scope,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

/// A token just created: the only time its secret is shown.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    pub token: TokenInfo,
    /// `sy_<id>_<secret>`: send as `Authorization: Bearer …` or
    /// `SWITCHYARD_TOKEN`. Not stored; shown once.
    pub secret: String,
}

/// What a new token may do.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub scope: Scope,
    /// Days until it stops working; `None` never expires.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// One audited event: who did what, from where, and how it ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "server", derive(sqlx::FromRow))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub audit_id: i64,
    pub at_ms: i64,
    /// `user:alice`, `token:ci`, `switchyard`; a failed login names the user
    /// name that was tried.
    pub actor: String,
    pub role: Option<String>,
    pub address: Option<String>,
    /// `config.put`, `job.run`, `login`, `token.create`, …
    pub action: String,
    pub target: String,
    /// `ok`, or the error's kind (`forbidden`, `invalid`, `conflict`, …).
    pub result: String,
    pub detail: String,
}

/// `s` with control characters escaped, for messages that echo an input.
pub fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(128).flat_map(char::escape_debug).collect();
    if s.chars().count() > 128 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        let viewer = Actor::user("v", Role::Viewer);
        let operator = Actor::user("o", Role::Operator);
        let admin = Actor::user("a", Role::Admin);
        assert!(viewer.require(Permission::Read).is_ok());
        assert!(viewer.require(Permission::ReadTranscripts).is_err());
        assert!(viewer.require(Permission::Operate).is_err());
        assert!(operator.require(Permission::Operate).is_ok());
        assert!(operator.require(Permission::Administer).is_err());
        assert!(admin.require(Permission::Administer).is_ok());
    }

    #[test]
    fn scopes_narrow_a_token() {
        let mut token = Actor::user("t", Role::Operator);
        token.scope = Scope {
            agents: Some(vec!["qa".into()]),
            read_only: true,
        };
        assert!(token.require(Permission::Read).is_ok());
        assert!(token.require(Permission::Operate).is_err());
        assert!(token.require_agent(Permission::Read, "qa").is_ok());
        assert!(token.require_agent(Permission::Read, "ceo").is_err());
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
    }
}
