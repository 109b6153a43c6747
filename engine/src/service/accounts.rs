//! Users, API tokens, console sessions and the audit log.

use super::Services;
use crate::accounts::NewSession;
use crate::identity::{Actor, Permission, Role};
use crate::identity::{NewToken, TokenInfo, TokenRequest, UserInfo};
use crate::store::{AuditEvent, AuditFilter};
use crate::Result;

impl Services {
    /// Who the caller is, as the console shows it.
    pub fn whoami(&self, actor: &Actor) -> crate::identity::Whoami {
        actor.whoami()
    }

    /// The caller behind a session cookie, if it is still valid.
    pub async fn identify_session(&self, secret: &str) -> Result<Option<Actor>> {
        self.accounts.session_actor(secret).await
    }

    /// The caller behind a bearer token, if it is still valid.
    pub async fn identify_token(&self, presented: &str) -> Result<Option<Actor>> {
        self.accounts.token_actor(presented).await
    }

    /// A password login: audited as `login`, ok or failed, under the name
    /// that was tried.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<NewSession> {
        let result = self.accounts.login(name, password, address).await;
        let tried = Actor::user(crate::identity::printable(name), Role::Viewer)
            .with_address(address.map(str::to_owned));
        let (outcome, detail, role) = match &result {
            Ok(session) => ("ok".to_owned(), String::new(), Some(session.actor.role)),
            Err(e) => (e.kind().code().to_owned(), super::audit_detail(e), None),
        };
        let mut actor = tried;
        if let Some(role) = role {
            actor.role = role;
        }
        self.record(&actor, "login", "console", &outcome, &detail)
            .await;
        result
    }

    /// A login proved by an identity provider: the user is created or has
    /// their role updated from the provider's claims, then gets a session.
    pub async fn login_sso(
        &self,
        name: &str,
        role: Role,
        source: &str,
        address: Option<&str>,
    ) -> Result<NewSession> {
        let result = async {
            self.accounts.upsert_sso_user(name, role, source).await?;
            self.accounts.login_verified(name, address).await
        }
        .await;
        let actor = Actor::user(crate::identity::printable(name), role)
            .with_address(address.map(str::to_owned));
        let (outcome, detail) = match &result {
            Ok(_) => ("ok".to_owned(), format!("via {source}")),
            Err(e) => (e.kind().code().to_owned(), super::audit_detail(e)),
        };
        self.record(&actor, "login.sso", "console", &outcome, &detail)
            .await;
        result
    }

    /// An identity provider vouched for `name`, but this server refuses the
    /// login (no role maps, the name is unusable): audited as a failed
    /// `login.sso`, like a wrong password is a failed `login`.
    pub async fn login_sso_refused(
        &self,
        name: &str,
        source: &str,
        address: Option<&str>,
        reason: &str,
    ) {
        let actor = Actor::user(crate::identity::printable(name), Role::Viewer)
            .with_address(address.map(str::to_owned));
        let detail = format!("via {source}: {reason}");
        self.record(&actor, "login.sso", "console", "forbidden", &detail)
            .await;
    }

    pub async fn logout(&self, actor: &Actor, session_secret: &str) -> Result<()> {
        let result = self.accounts.logout(session_secret).await;
        self.record(
            actor,
            "logout",
            "console",
            if result.is_ok() { "ok" } else { "internal" },
            "",
        )
        .await;
        result
    }

    pub async fn users(&self, actor: &Actor) -> Result<Vec<UserInfo>> {
        actor.require(Permission::Administer)?;
        self.accounts.users().await
    }

    pub async fn add_user(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<UserInfo> {
        let target = crate::identity::printable(name);
        self.audited(actor, Permission::Administer, "user.add", &target, async {
            self.accounts.add_user(name, role, password).await
        })
        .await
    }

    /// Role and disabled changes; each ends the user's sessions.
    pub async fn update_user(
        &self,
        actor: &Actor,
        name: &str,
        role: Option<Role>,
        disabled: Option<bool>,
    ) -> Result<()> {
        let target = crate::identity::printable(name);
        self.audited(
            actor,
            Permission::Administer,
            "user.update",
            &target,
            async {
                if let Some(role) = role {
                    self.accounts.set_role(name, role).await?;
                }
                if let Some(disabled) = disabled {
                    self.accounts.set_disabled(name, disabled).await?;
                }
                Ok(())
            },
        )
        .await
    }

    pub async fn set_password(&self, actor: &Actor, name: &str, password: &str) -> Result<()> {
        let target = crate::identity::printable(name);
        self.audited(
            actor,
            Permission::Administer,
            "user.password",
            &target,
            async { self.accounts.set_password(name, password).await },
        )
        .await
    }

    pub async fn tokens(&self, actor: &Actor) -> Result<Vec<TokenInfo>> {
        actor.require(Permission::Administer)?;
        self.accounts.tokens().await
    }

    pub async fn create_token(&self, actor: &Actor, request: &TokenRequest) -> Result<NewToken> {
        let target = crate::identity::printable(&request.name);
        self.audited(
            actor,
            Permission::Administer,
            "token.create",
            &target,
            async { self.accounts.create_token(actor, request).await },
        )
        .await
    }

    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<()> {
        let target = crate::identity::printable(id);
        self.audited(
            actor,
            Permission::Administer,
            "token.revoke",
            &target,
            async { self.accounts.revoke_token(id).await },
        )
        .await
    }

    pub async fn audit_events(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>> {
        actor.require(Permission::Administer)?;
        self.store().audit_events(filter).await
    }
}
