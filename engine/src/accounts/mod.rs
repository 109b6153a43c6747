//! Users, console sessions and API tokens: making and checking the secrets
//! whose hashes `store::accounts` keeps (docs/SECURITY.md).
//!
//! - Passwords: argon2id (the `argon2` crate's defaults), checked off the
//!   async runtime; an unknown user is checked against a dummy hash so the
//!   answer takes as long either way.
//! - Sessions and tokens: 256 random bits, stored as SHA-256 (a fast hash is
//!   right for random secrets: there is nothing to guess).
//! - Failed logins are counted per address and per user name; past the
//!   limit, logins answer "too many attempts" until the window ends.

mod secret;
mod throttle;

use crate::clock::SharedClock;
use crate::identity::{Actor, Principal, Role};
use crate::store::{SessionRow, Store, TokenRow, UserRow};
use crate::{Error, Result};

pub use crate::identity::{NewToken, TokenInfo, TokenRequest, UserInfo};
pub use secret::{hash_secret, random_secret};
pub use throttle::LoginThrottle;

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle_ms: i64,
    /// A session ends this long after login, used or not.
    pub absolute_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_ms: 2 * 3600 * 1000,
            absolute_ms: 12 * 3600 * 1000,
        }
    }
}

/// Last-used times are written at most this often per session or token, so
/// a busy console does not turn every read into a write.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The longest password accepted: argon2 hashes any length, but a 2 MB
/// password is a denial of service, not a password.
const MAX_PASSWORD: usize = 1_024;
const MIN_PASSWORD: usize = 12;

/// A session just started: the cookie value, shown once.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub secret: String,
    pub actor: Actor,
    pub expires_at_ms: i64,
}

#[derive(Clone)]
pub struct Accounts {
    store: Store,
    clock: SharedClock,
    policy: SessionPolicy,
    throttle: LoginThrottle,
}

impl Accounts {
    pub fn new(store: Store, clock: SharedClock, policy: SessionPolicy) -> Self {
        let throttle = LoginThrottle::new(clock.clone());
        Accounts {
            store,
            clock,
            policy,
            throttle,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// On a database without users, creates `admin` with `password`, or with
    /// a generated one that is returned so the caller prints it once.
    pub async fn bootstrap_admin(&self, password: Option<&str>) -> Result<Option<String>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.to_owned(), false),
            None => (random_secret(18), true),
        };
        match self.add_user("admin", Role::Admin, &password).await {
            Ok(_) => Ok(generated.then_some(password)),
            // Another replica created it first.
            Err(Error::Invalid(_)) if self.store.count_users().await? > 0 => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn add_user(&self, name: &str, role: Role, password: &str) -> Result<UserInfo> {
        check_user_name(name)?;
        check_password(password)?;
        let hash = secret::hash_password(password.to_owned()).await?;
        let now = self.clock.now_ms();
        let row = UserRow {
            name: name.to_owned(),
            password_hash: Some(hash),
            role: role.as_str().to_owned(),
            disabled: false,
            source: "password".into(),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.store.insert_user(&row).await?;
        user_info(&row)
    }

    /// A user who logs in through an identity provider: created on first
    /// login, role updated from the provider's claims on each one.
    pub async fn upsert_sso_user(&self, name: &str, role: Role, source: &str) -> Result<()> {
        check_user_name(name)?;
        let now = self.clock.now_ms();
        match self.store.user(name).await? {
            Some(existing) if existing.source != source => Err(Error::Forbidden {
                message: format!(
                    "user `{name}` exists and logs in with {}, not {source}",
                    existing.source
                ),
            }),
            Some(existing) if existing.disabled => Err(Error::Forbidden {
                message: format!("user `{name}` is disabled"),
            }),
            Some(existing) => {
                if existing.role()? != role {
                    self.store
                        .update_user(name, None, Some(role), None, now)
                        .await?;
                }
                Ok(())
            }
            None => {
                self.store
                    .insert_user(&UserRow {
                        name: name.to_owned(),
                        password_hash: None,
                        role: role.as_str().to_owned(),
                        disabled: false,
                        source: source.to_owned(),
                        created_at_ms: now,
                        updated_at_ms: now,
                    })
                    .await
            }
        }
    }

    pub async fn users(&self) -> Result<Vec<UserInfo>> {
        self.store.users().await?.iter().map(user_info).collect()
    }

    /// New password; the user's sessions end.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = secret::hash_password(password.to_owned()).await?;
        self.store
            .update_user(name, Some(&hash), None, None, self.clock.now_ms())
            .await
    }

    /// Disabling ends the user's sessions; enabling lets them log in again.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        self.store
            .update_user(name, None, None, Some(disabled), self.clock.now_ms())
            .await
    }

    pub async fn set_role(&self, name: &str, role: Role) -> Result<()> {
        self.store
            .update_user(name, None, Some(role), None, self.clock.now_ms())
            .await
    }

    /// Checks a password and starts a session. Every failure answers the
    /// same "wrong user name or password", so the answer does not tell
    /// which user names exist.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: Option<&str>,
    ) -> Result<NewSession> {
        let keys = throttle::keys(name, address);
        self.throttle.check(&keys)?;
        let user = if name.len() <= 128 && password.len() <= MAX_PASSWORD {
            self.store.user(name).await?
        } else {
            None
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let verified = secret::verify_password(password.to_owned(), hash).await?;
        let user = match user {
            Some(user) if verified && !user.disabled => user,
            _ => {
                self.throttle.failed(&keys);
                return Err(Error::Unauthenticated {
                    message: "wrong user name or password".into(),
                });
            }
        };
        self.throttle.succeeded(&keys);
        self.start_session(&user, address).await
    }

    /// A session for a user who proved who they are elsewhere (SSO).
    pub async fn login_verified(&self, name: &str, address: Option<&str>) -> Result<NewSession> {
        let user = self
            .store
            .user(name)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| Error::Unauthenticated {
                message: format!("user `{name}` is unknown or disabled"),
            })?;
        self.start_session(&user, address).await
    }

    async fn start_session(&self, user: &UserRow, address: Option<&str>) -> Result<NewSession> {
        let secret = random_secret(32);
        let now = self.clock.now_ms();
        let expires_at_ms = now + self.policy.absolute_ms;
        self.store
            .insert_session(&SessionRow {
                id_hash: hash_secret(&secret),
                user_name: user.name.clone(),
                created_at_ms: now,
                last_seen_ms: now,
                expires_at_ms,
                revoked_at_ms: None,
                address: address.map(str::to_owned),
            })
            .await?;
        Ok(NewSession {
            secret,
            actor: Actor::user(&user.name, user.role()?).with_address(address.map(str::to_owned)),
            expires_at_ms,
        })
    }

    /// The user behind a session cookie; `None` if the session is unknown,
    /// revoked, idle too long, past its absolute expiry, or its user is
    /// disabled.
    pub async fn session_actor(&self, secret: &str) -> Result<Option<Actor>> {
        if secret.len() > 128 {
            return Ok(None);
        }
        let id_hash = hash_secret(secret);
        let Some(session) = self.store.session(&id_hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now_ms();
        if session.revoked_at_ms.is_some()
            || now >= session.expires_at_ms
            || now - session.last_seen_ms >= self.policy.idle_ms
        {
            return Ok(None);
        }
        let Some(user) = self.store.user(&session.user_name).await? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        if now - session.last_seen_ms >= TOUCH_EVERY_MS {
            self.store.touch_session(&id_hash, now).await?;
        }
        Ok(Some(Actor::user(&user.name, user.role()?)))
    }

    pub async fn logout(&self, secret: &str) -> Result<()> {
        self.store
            .revoke_session(&hash_secret(secret), self.clock.now_ms())
            .await
    }

    /// A new API token. Nobody hands out more than they have: the token's
    /// role is at most the creator's.
    pub async fn create_token(&self, by: &Actor, request: &TokenRequest) -> Result<NewToken> {
        check_token_name(&request.name)?;
        if request.role > by.role {
            return Err(Error::Forbidden {
                message: format!(
                    "{} has role {} and cannot create a {} token",
                    by.name(),
                    by.role,
                    request.role
                ),
            });
        }
        if let Some(agents) = &request.scope.agents {
            if agents.is_empty() || agents.len() > 1_000 {
                return Err(Error::invalid(
                    "scope.agents",
                    "name between 1 and 1,000 agents, or leave it out for every agent",
                ));
            }
        }
        let now = self.clock.now_ms();
        let expires_at_ms = match request.expires_in_days {
            Some(0) | Some(3651..) => {
                return Err(Error::invalid(
                    "expiresInDays",
                    "between 1 and 3,650 days, or leave it out for no expiry",
                ))
            }
            Some(days) => Some(now + i64::from(days) * 86_400_000),
            None => None,
        };
        let id = random_secret(9).replace(['-', '_'], "x");
        let secret = random_secret(32);
        let row = TokenRow {
            token_id: id.clone(),
            name: request.name.clone(),
            secret_hash: hash_secret(&secret),
            role: request.role.as_str().into(),
            scope: serde_json::to_string(&request.scope).expect("scope serializes"),
            created_by: by.name(),
            created_at_ms: now,
            expires_at_ms,
            revoked_at_ms: None,
            last_used_ms: None,
        };
        self.store.insert_token(&row).await?;
        Ok(NewToken {
            token: token_info(&row)?,
            secret: format!("sy_{id}_{secret}"),
        })
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.store.tokens().await?.iter().map(token_info).collect()
    }

    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        self.store.revoke_token(id, self.clock.now_ms()).await
    }

    /// The caller behind `Authorization: Bearer sy_<id>_<secret>`; `None` if
    /// malformed, unknown, wrong, expired or revoked.
    pub async fn token_actor(&self, presented: &str) -> Result<Option<Actor>> {
        let Some((id, secret)) = presented
            .strip_prefix("sy_")
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        if id.len() > 32 || secret.len() > 128 {
            return Ok(None);
        }
        let Some(row) = self.store.token(id).await? else {
            return Ok(None);
        };
        if !secret::same(&row.secret_hash, &hash_secret(secret)) {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        if row.revoked_at_ms.is_some() || row.expires_at_ms.is_some_and(|t| now >= t) {
            return Ok(None);
        }
        if row.last_used_ms.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
            self.store.touch_token(id, now).await?;
        }
        Ok(Some(Actor {
            principal: Principal::Token {
                id: row.token_id.clone(),
                name: row.name.clone(),
            },
            role: row.role()?,
            scope: row.scope()?,
            address: None,
        }))
    }
}

fn user_info(row: &UserRow) -> Result<UserInfo> {
    Ok(UserInfo {
        name: row.name.clone(),
        role: row.role()?,
        disabled: row.disabled,
        source: row.source.clone(),
        created_at_ms: row.created_at_ms,
    })
}

fn token_info(row: &TokenRow) -> Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.token_id.clone(),
        name: row.name.clone(),
        role: row.role()?,
        scope: row.scope()?,
        created_by: row.created_by.clone(),
        created_at_ms: row.created_at_ms,
        expires_at_ms: row.expires_at_ms,
        revoked_at_ms: row.revoked_at_ms,
        last_used_ms: row.last_used_ms,
    })
}

/// User names end up in revision authors, audit lines and logs: letters,
/// digits and `.-_@` only.
fn check_user_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            "1 to 64 characters: letters, digits, `.`, `-`, `_` or `@`",
        ))
    }
}

fn check_token_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            "1 to 64 characters: letters, digits, `.`, `-` or `_`",
        ))
    }
}

fn check_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(Error::invalid(
            "password",
            format!("between {MIN_PASSWORD} and {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}
