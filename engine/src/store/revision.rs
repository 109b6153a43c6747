//! Config revisions: an append-only, linear chain (see the migration's notes).

use sha2::{Digest, Sha256};

use super::{with_pool, Store};
use crate::config::{RevisionId, RevisionInfo};
use crate::{Error, Result};

/// A stored revision, body included.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub info: RevisionInfo,
    pub body: serde_json::Value,
}

/// What the caller supplies for a new revision.
pub struct NewRevision<'a> {
    pub author: &'a str,
    pub message: &'a str,
    pub created_at_ms: i64,
    pub body: &'a serde_json::Value,
}

type Row = (i64, i64, String, String, String, i64, String);

const COLUMNS: &str = "config_revision_id, parent_id, hash, author, message, created_at_ms, body";

/// The one reader of a stored revision body: every read goes through it, and
/// [`Store::append_revision`] reads each new revision back with it before
/// committing, so a revision is only acknowledged once it is proven readable.
pub fn read_revision_body(text: &str) -> std::result::Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn from_row((id, parent, hash, author, message, created_at_ms, body): Row) -> Result<Revision> {
    let body = read_revision_body(&body).map_err(|message| Error::Corrupt {
        what: format!("config revision {id}"),
        message,
    })?;
    Ok(Revision {
        info: RevisionInfo {
            id: RevisionId(id),
            parent: (parent != 0).then_some(RevisionId(parent)),
            hash,
            author,
            message,
            created_at_ms,
        },
        body,
    })
}

/// sha256(parent hash, newline, body JSON). serde_json's maps are ordered, so
/// equal configs serialize to equal bytes.
fn chain_hash(parent_hash: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(parent_hash.as_bytes());
    h.update(b"\n");
    h.update(body.as_bytes());
    hex::encode(h.finalize())
}

impl Store {
    /// The newest revision, or `None` on an empty database.
    pub async fn head_revision(&self) -> Result<Option<Revision>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM config_revision ORDER BY config_revision_id DESC LIMIT 1"
        );
        let row: Option<Row> =
            with_pool!(self, pool => sqlx::query_as(&sql).fetch_optional(pool).await)?;
        row.map(from_row).transpose()
    }

    /// The newest revision's hash only: cheap enough to ask every second.
    pub async fn head_hash(&self) -> Result<Option<String>> {
        let row: Option<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT hash FROM config_revision ORDER BY config_revision_id DESC LIMIT 1")
            .fetch_optional(pool).await)?;
        Ok(row.map(|(h,)| h))
    }

    pub async fn revision(&self, id: RevisionId) -> Result<Revision> {
        let sql = format!("SELECT {COLUMNS} FROM config_revision WHERE config_revision_id = $1");
        let row: Option<Row> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id.0).fetch_optional(pool).await)?;
        row.map(from_row)
            .transpose()?
            .ok_or_else(|| Error::NotFound {
                what: "config revision",
                id: id.to_string(),
            })
    }

    /// Newest first.
    pub async fn revisions(&self, limit: i64) -> Result<Vec<RevisionInfo>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM config_revision ORDER BY config_revision_id DESC LIMIT $1"
        );
        let rows: Vec<Row> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(limit).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|r| from_row(r).map(|r| r.info))
            .collect()
    }

    /// Appends a revision on top of `base` (`None`: the first revision).
    ///
    /// If `base` is no longer the newest revision, nothing is written and the
    /// result is [`Error::Conflict`] naming the current head. The database's
    /// `UNIQUE(parent_id)` decides races, so this holds across replicas.
    ///
    /// One transaction: the row is read back with [`read_revision_body`] and
    /// compared with `new.body` before the commit, and the id is answered
    /// only once the commit succeeded (an `INSERT … RETURNING` in autocommit
    /// answered ids of rows SQLite then failed to commit on a full disk).
    pub async fn append_revision(
        &self,
        base: Option<&RevisionInfo>,
        new: NewRevision<'_>,
    ) -> Result<RevisionInfo> {
        let body = serde_json::to_string(new.body).expect("JSON value serializes");
        let parent_id = base.map_or(0, |b| b.id.0);
        let hash = chain_hash(base.map_or("", |b| b.hash.as_str()), &body);
        let insert =
            "INSERT INTO config_revision (parent_id, hash, author, message, created_at_ms, body) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING config_revision_id";
        let select = format!("SELECT {COLUMNS} FROM config_revision WHERE config_revision_id = $1");
        // The outer result is the database's; the inner one is the read-back
        // check, which rolls back (the transaction is dropped uncommitted).
        let written: std::result::Result<Result<Revision>, sqlx::Error> = with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(insert)
                .bind(parent_id)
                .bind(&hash)
                .bind(new.author)
                .bind(new.message)
                .bind(new.created_at_ms)
                .bind(&body)
                .fetch_one(&mut *tx)
                .await?;
            let row: Row = sqlx::query_as(&select).bind(id).fetch_one(&mut *tx).await?;
            let stored = match from_row(row) {
                Ok(stored) if &stored.body == new.body => stored,
                Ok(_) => {
                    return Ok(Err(Error::Corrupt {
                        what: format!("config revision {id} (not stored)"),
                        message: "the body read back differs from the one written".into(),
                    }))
                }
                Err(e) => {
                    return Ok(Err(Error::invalid(
                        "(config)",
                        format!("cannot be stored: it would not read back ({e}); nothing was stored"),
                    )))
                }
            };
            tx.commit().await?;
            Ok(Ok(stored))
        }.await);
        match written {
            Ok(Ok(stored)) => Ok(stored.info),
            Ok(Err(e)) => Err(e),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let current_hash = self
                    .head_revision()
                    .await?
                    .map(|r| r.info.hash)
                    .unwrap_or_default();
                Err(Error::Conflict { current_hash })
            }
            Err(e) => Err(e.into()),
        }
    }
}
