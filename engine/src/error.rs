//! The engine's one error type. Callers branch on [`Error::kind`]; the server
//! maps kinds to HTTP status codes in a single match.

use serde::{Deserialize, Serialize};

/// One thing wrong with an input, located by its JSON path
/// (`agents.entries.release-engineer.embeddedHarness.fallback`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What kind of failure an [`Error`] is, independent of its details.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    NotFound,
    Conflict,
    Invalid,
    Unavailable,
    Internal,
    /// No credentials, or ones that are unknown, expired or revoked.
    Unauthenticated,
    /// Known caller, not allowed to do this.
    Forbidden,
    /// Too many attempts; try again later.
    TooMany,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },

    /// A write was based on a config revision that is no longer the newest.
    #[error("config changed meanwhile: the current revision is {current_hash}")]
    Conflict { current_hash: String },

    /// The input was wrong; every problem found is listed, not just the first.
    #[error("{}", join_problems(.0))]
    Invalid(Vec<Problem>),

    /// The stored state cannot be read back (a revision that no longer parses).
    /// Never caused by the caller; reported as internal.
    #[error("stored {what} is unreadable: {message}")]
    Corrupt { what: String, message: String },

    #[cfg(feature = "server")]
    #[error("database: {0}")]
    Database(sqlx::Error),

    /// The database could not make a write durable (disk full, a failed
    /// write or sync): the write was rolled back, nothing was stored. The
    /// database's own text (PostgreSQL's names data files) is logged when
    /// the error is made, not shown.
    #[cfg(feature = "server")]
    #[error("database write failed: {reason}; nothing was stored")]
    WriteFailed {
        reason: &'static str,
        source: sqlx::Error,
    },

    #[cfg(feature = "server")]
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    #[error("{0}")]
    Io(#[from] std::io::Error),

    /// The caller is not known (no, unknown, expired or revoked credentials).
    #[error("{message}")]
    Unauthenticated { message: String },

    /// The caller is known but their role or scope does not allow this.
    #[error("forbidden: {message}")]
    Forbidden { message: String },

    /// Too many attempts (logins); try again after `retry_after_s`.
    #[error("{message}")]
    TooMany { message: String, retry_after_s: u64 },
}

#[cfg(feature = "server")]
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match write_failure(&e) {
            Some(reason) => {
                tracing::error!(error = %e, "database write failed: {reason}; nothing was stored");
                Error::WriteFailed { reason, source: e }
            }
            None => Error::Database(e),
        }
    }
}

/// What a database error says about durability: `Some` when the database
/// could not store a write (so the operator hears "disk full", not an
/// opaque code), `None` for every other error.
#[cfg(feature = "server")]
fn write_failure(e: &sqlx::Error) -> Option<&'static str> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    let code = db.code()?;
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLite reports extended result codes.
        return match code.parse::<i32>().ok()? {
            13 => Some("disk full"),
            // SQLITE_IOERR_WRITE, _FSYNC, _DIR_FSYNC, _TRUNCATE
            778 | 1034 | 1290 | 1546 => Some("I/O error"),
            _ => None,
        };
    }
    match code.as_ref() {
        "53100" => Some("disk full"),
        "58030" => Some("I/O error"),
        _ => None,
    }
}

fn join_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ErrorKind {
    /// The kind as the API's `code` and the audit log's result name it.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::TooMany => "too_many",
        }
    }
}

impl Error {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![Problem::new(path, message)])
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            Error::Forbidden { .. } => ErrorKind::Forbidden,
            Error::TooMany { .. } => ErrorKind::TooMany,
            #[cfg(feature = "server")]
            Error::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
            | Error::WriteFailed { .. } => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }

    /// The problems to show a caller, if the error is their input's fault.
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid(p) => p,
            _ => &[],
        }
    }
}
