//! Who is calling, and whether the request may come from where it does.
//!
//! Three layers, outermost first, on every route:
//! 1. [`guard`]: the `Host` must be one of ours (DNS rebinding) and a
//!    request that changes something must not come from another site
//!    (`Origin`, `Sec-Fetch-Site`), whatever its credentials.
//! 2. [`identify`]: a bearer token or the session cookie becomes an
//!    [`Actor`] in the request's extensions.
//! 3. [`gate`]: the API and server functions answer 401 to a caller without
//!    one, pages redirect to the login page. What a known caller may do is
//!    decided by the engine's services, which take the actor on every call.
//!
//! The login and logout endpoints live in [`session`]; single sign-on
//! through an OpenID provider in [`oidc`].

pub mod gate;
pub mod guard;
pub mod identify;
pub mod oidc;
pub mod session;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use engine::identity::Actor;

use crate::error::ApiError;

/// The session cookie. HttpOnly and SameSite=Strict always, Secure under TLS.
pub const SESSION_COOKIE: &str = "switchyard_session";

/// What [`identify`] found, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Identity {
    pub actor: Option<Actor>,
    /// The session cookie's value when the caller came with one (logout
    /// needs it).
    pub session: Option<String>,
}

/// The calling actor; 401 when there is none. Every REST handler that
/// reads or changes anything takes this.
pub struct Caller(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        actor_of(parts).map(Caller).ok_or_else(unauthenticated)
    }
}

pub fn actor_of(parts: &Parts) -> Option<Actor> {
    parts
        .extensions
        .get::<Identity>()
        .and_then(|i| i.actor.clone())
}

pub fn unauthenticated() -> ApiError {
    ApiError::Engine(engine::Error::Unauthenticated {
        message: "log in, or send `Authorization: Bearer <token>` (SWITCHYARD_TOKEN for the CLI)"
            .into(),
    })
}
