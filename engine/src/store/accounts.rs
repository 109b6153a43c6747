//! Users, console sessions and API tokens. Only hashes are stored; the
//! service in `crate::accounts` makes and checks the secrets.

use sqlx::FromRow;

use super::{with_pool, Store};
use crate::identity::{Role, Scope};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct UserRow {
    pub name: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub disabled: bool,
    pub source: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl UserRow {
    pub fn role(&self) -> Result<Role> {
        self.role.parse().map_err(|_| Error::Corrupt {
            what: format!("user `{}`", self.name),
            message: format!("unknown role `{}`", self.role),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_name: String,
    pub created_at_ms: i64,
    pub last_seen_ms: i64,
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TokenRow {
    pub token_id: String,
    pub name: String,
    pub secret_hash: String,
    pub role: String,
    pub scope: String,
    pub created_by: String,
    pub created_at_ms: i64,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
}

impl TokenRow {
    pub fn role(&self) -> Result<Role> {
        self.role.parse().map_err(|_| Error::Corrupt {
            what: format!("token `{}`", self.token_id),
            message: format!("unknown role `{}`", self.role),
        })
    }

    pub fn scope(&self) -> Result<Scope> {
        serde_json::from_str(&self.scope).map_err(|e| Error::Corrupt {
            what: format!("token `{}`", self.token_id),
            message: e.to_string(),
        })
    }
}

const USER_COLUMNS: &str =
    "name, password_hash, role, disabled, source, created_at_ms, updated_at_ms";
const SESSION_COLUMNS: &str =
    "id_hash, user_name, created_at_ms, last_seen_ms, expires_at_ms, revoked_at_ms, address";
const TOKEN_COLUMNS: &str = "token_id, name, secret_hash, role, scope, created_by, created_at_ms, \
     expires_at_ms, revoked_at_ms, last_used_ms";

/// Every write here runs in a transaction whose commit is awaited, so a
/// failed commit (a full disk) is an error and never an acknowledged change.
impl Store {
    pub async fn user(&self, name: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM app_user WHERE name = $1");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).bind(name).fetch_optional(pool).await)?)
    }

    pub async fn users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM app_user ORDER BY name");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
    }

    pub async fn count_users(&self) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, pool =>
            sqlx::query_as("SELECT COUNT(*) FROM app_user").fetch_one(pool).await)?;
        Ok(n)
    }

    /// Inserts a user; a taken name is a conflict-free `Invalid` error.
    pub async fn insert_user(&self, user: &UserRow) -> Result<()> {
        let result = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO app_user (name, password_hash, role, disabled, source, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(&user.role)
            .bind(user.disabled)
            .bind(&user.source)
            .bind(user.created_at_ms)
            .bind(user.updated_at_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        });
        match result {
            Ok(()) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(Error::invalid(
                "name",
                format!("a user named `{}` exists already", user.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes a user's password hash, role or disabled flag. Disabling or a
    /// new password also revokes the user's sessions, in the same transaction.
    pub async fn update_user(
        &self,
        name: &str,
        password_hash: Option<&str>,
        role: Option<Role>,
        disabled: Option<bool>,
        now_ms: i64,
    ) -> Result<()> {
        let revoke = password_hash.is_some() || disabled == Some(true) || role.is_some();
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE app_user SET password_hash = COALESCE($2, password_hash), \
                 role = COALESCE($3, role), disabled = COALESCE($4, disabled), updated_at_ms = $5 \
                 WHERE name = $1",
            )
            .bind(name)
            .bind(password_hash)
            .bind(role.map(Role::as_str))
            .bind(disabled)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if revoke {
                sqlx::query(
                    "UPDATE app_session SET revoked_at_ms = $2 WHERE user_name = $1 AND revoked_at_ms IS NULL",
                )
                .bind(name)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done.rows_affected())
        })?;
        if changed == 0 {
            return Err(Error::NotFound {
                what: "user",
                id: name.to_owned(),
            });
        }
        Ok(())
    }

    pub async fn insert_session(&self, session: &SessionRow) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO app_session (id_hash, user_name, created_at_ms, last_seen_ms, expires_at_ms, revoked_at_ms, address) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&session.id_hash)
            .bind(&session.user_name)
            .bind(session.created_at_ms)
            .bind(session.last_seen_ms)
            .bind(session.expires_at_ms)
            .bind(session.revoked_at_ms)
            .bind(&session.address)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM app_session WHERE id_hash = $1");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).bind(id_hash).fetch_optional(pool).await)?)
    }

    /// Moves a session's idle clock forward.
    pub async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE app_session SET last_seen_ms = $2 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn revoke_session(&self, id_hash: &str, now_ms: i64) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE app_session SET revoked_at_ms = $2 WHERE id_hash = $1 AND revoked_at_ms IS NULL",
            )
            .bind(id_hash)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn insert_token(&self, token: &TokenRow) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO api_token (token_id, name, secret_hash, role, scope, created_by, created_at_ms, expires_at_ms, revoked_at_ms, last_used_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&token.token_id)
            .bind(&token.name)
            .bind(&token.secret_hash)
            .bind(&token.role)
            .bind(&token.scope)
            .bind(&token.created_by)
            .bind(token.created_at_ms)
            .bind(token.expires_at_ms)
            .bind(token.revoked_at_ms)
            .bind(token.last_used_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn token(&self, token_id: &str) -> Result<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_token WHERE token_id = $1");
        Ok(
            with_pool!(self, pool => sqlx::query_as(&sql).bind(token_id).fetch_optional(pool).await)?,
        )
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM api_token ORDER BY created_at_ms DESC, token_id");
        Ok(with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
    }

    pub async fn touch_token(&self, token_id: &str, now_ms: i64) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE api_token SET last_used_ms = $2 WHERE token_id = $1")
                .bind(token_id)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(())
    }

    pub async fn revoke_token(&self, token_id: &str, now_ms: i64) -> Result<()> {
        let changed = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE api_token SET revoked_at_ms = COALESCE(revoked_at_ms, $2) WHERE token_id = $1",
            )
            .bind(token_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done.rows_affected())
        })?;
        if changed == 0 {
            return Err(Error::NotFound {
                what: "token",
                id: token_id.to_owned(),
            });
        }
        Ok(())
    }
}
