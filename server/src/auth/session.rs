//! Console login and logout. The login form posts here (a plain form, so
//! it works without JavaScript); a good password sets the session cookie
//! and sends the browser back where it came from.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use engine::identity::Whoami;
use serde::Deserialize;

use super::gate::{safe_next, urlencode};
use super::identify::client_address;
use super::{Caller, Identity, SESSION_COOKIE};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/api/v1/whoami", get(whoami))
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(State(state): State<AppState>, req: Request) -> Response {
    let address = client_address(&req);
    let Form(form) =
        match <Form<LoginForm> as axum::extract::FromRequest<()>>::from_request(req, &()).await {
            Ok(form) => form,
            Err(e) => return (StatusCode::BAD_REQUEST, format!("login form: {e}")).into_response(),
        };
    let next = safe_next(form.next.as_deref());
    match state
        .services
        .login(&form.name, &form.password, address.as_deref())
        .await
    {
        Ok(session) => {
            let max_age = state.session_max_age_s;
            let cookie = session_cookie(&session.secret, max_age, state.secure_cookies);
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => {
            let message = match e {
                engine::Error::TooMany { message, .. } => message,
                engine::Error::Unauthenticated { message } => message,
                engine::Error::Invalid(_) => "wrong user name or password".to_owned(),
                other => {
                    tracing::error!(error = %other, "login failed");
                    "login is not possible right now; see the server log".to_owned()
                }
            };
            Redirect::to(&format!(
                "/login?error={}&next={}",
                urlencode(&message),
                urlencode(&next)
            ))
            .into_response()
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    Extension(identity): Extension<Identity>,
) -> Response {
    if let (Some(actor), Some(secret)) = (&identity.actor, &identity.session) {
        if let Err(e) = state.services.logout(actor, secret).await {
            return crate::error::ApiError::Engine(e).into_response();
        }
    }
    let mut response = Redirect::to("/login?loggedOut=1").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, state.secure_cookies),
    );
    response
}

/// Who the caller is: name, role, read-only.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "auth",
    responses((status = 200, body = Whoami), (status = 401, body = app::error::AppError)))]
pub(crate) async fn whoami(Caller(actor): Caller) -> Json<Whoami> {
    Json(actor.whoami())
}

pub(crate) fn session_cookie(secret: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    ))
    .expect("a cookie of base64url characters is a valid header")
}
