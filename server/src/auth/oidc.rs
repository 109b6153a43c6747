//! Console login through an OpenID Connect provider: authorization code
//! with PKCE (S256), `state` and `nonce` (docs/SECURITY.md, "Single
//! sign-on").
//!
//! - `GET /auth/oidc/login?next=/path` keeps the PKCE verifier, the nonce
//!   and `next` under a random `state` in this process's memory for ten
//!   minutes, sets a cookie holding the same `state` (binding the login to
//!   this browser), and sends the browser to the provider.
//! - `GET /auth/oidc/callback?code&state` takes the pending login out (so a
//!   callback works once), checks the cookie, exchanges the code with the
//!   verifier, verifies the ID token (signature against the provider's
//!   keys, issuer, audience, nonce, expiry), maps the claims to a user name
//!   and a role, and starts an ordinary session.
//!
//! A login must finish on the replica that started it: the pending logins
//! are not in the database.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use engine::identity::Role;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, StandardErrorResponse, StandardTokenResponse, TokenResponse,
    UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::gate::{safe_next, urlencode};
use super::identify::{client_address, cookie};
use crate::settings::OidcSettings;
use crate::AppState;

pub const LOGIN_PATH: &str = "/auth/oidc/login";
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";
/// Binds a pending login to the browser that started it.
pub const STATE_COOKIE: &str = "switchyard_oidc_state";

/// How long a started login may take at the provider.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Logins started and not finished, at most: anyone may start one, so the
/// memory they take is bounded.
const MAX_PENDING: usize = 10_000;
/// The provider's metadata and keys are fetched again after this, at the
/// next login.
const METADATA_TTL: Duration = Duration::from_secs(3_600);
/// A signature that does not verify makes us fetch the keys again (the
/// provider may have rotated them), at most this often.
const FORCED_REFRESH_EVERY: Duration = Duration::from_secs(60);
/// After a failed discovery, logins use the copy they have (or are refused)
/// for this long before the provider is asked again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub fn router() -> Router<AppState> {
    Router::new()
        .route(LOGIN_PATH, get(login))
        .route(CALLBACK_PATH, get(callback))
}

/// Every claim the provider sent besides the standard ones (`groups`, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherClaims(Map<String, Value>);
impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The login page's "Log in with …" button (`label`: the issuer's host).
pub struct Oidc {
    settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    label: String,
    /// Follows no redirects: the provider's URLs come from its discovery
    /// document, and a redirect there could point anywhere.
    http: openidconnect::reqwest::Client,
    metadata: tokio::sync::Mutex<MetadataCache>,
    pending: Mutex<HashMap<String, Pending>>,
}

#[derive(Default)]
struct MetadataCache {
    discovered: Option<Discovered>,
    /// When discovery last failed.
    failed: Option<Instant>,
}

struct Discovered {
    metadata: CoreProviderMetadata,
    fetched: Instant,
}

struct Pending {
    verifier: String,
    nonce: Nonce,
    next: String,
    started: Instant,
}

/// A login that did not happen, with what the person at the browser is
/// told. Never holds a token or a code.
#[derive(Debug)]
pub struct Refusal {
    pub message: String,
    /// Who the provider said the person is, when it got that far (for the
    /// audit log).
    pub name: Option<String>,
}

impl Refusal {
    fn new(message: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            name: None,
        }
    }
}

/// Who logs in, as the provider vouched for them and the role map decided.
#[derive(Debug)]
pub struct Verified {
    pub name: String,
    pub role: Role,
    pub next: String,
}

impl Oidc {
    pub fn new(settings: OidcSettings, redirect: url::Url) -> anyhow::Result<Self> {
        let issuer = IssuerUrl::new(settings.issuer.clone())?;
        let label = issuer
            .url()
            .host_str()
            .map(|h| match issuer.url().port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
            .unwrap_or_else(|| settings.issuer.clone());
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()?;
        Ok(Oidc {
            redirect: RedirectUrl::from_url(redirect),
            issuer,
            label,
            http,
            metadata: tokio::sync::Mutex::new(MetadataCache::default()),
            pending: Mutex::new(HashMap::new()),
            settings,
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn redirect_url(&self) -> &str {
        self.redirect.as_str()
    }

    /// What users who log in here have as their source: `oidc:<issuer>`.
    pub fn source(&self) -> String {
        format!("oidc:{}", self.settings.issuer)
    }

    /// Fetches the provider's metadata once at start, so the first login
    /// does not wait for it; a provider that is down is only logged (the
    /// first login tries again), it does not stop the server.
    pub async fn warm_up(&self) {
        match self.metadata(false).await {
            Ok(_) => tracing::info!(issuer = %self.settings.issuer, "OpenID provider discovered"),
            Err(e) => tracing::warn!(
                issuer = %self.settings.issuer,
                "OpenID provider not reachable yet ({}); logins will try again",
                e.message
            ),
        }
    }

    /// The provider's metadata and keys: cached, fetched again when older
    /// than [`METADATA_TTL`] or when `refresh` asks (a signature did not
    /// verify). A failed refresh keeps the old copy.
    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata, Refusal> {
        let mut cache = self.metadata.lock().await;
        if let Some(d) = &cache.discovered {
            let fresh = d.fetched.elapsed() < METADATA_TTL;
            let recently = d.fetched.elapsed() < FORCED_REFRESH_EVERY;
            if (fresh && !refresh) || (refresh && recently) {
                return Ok(d.metadata.clone());
            }
        }
        // A provider that just failed is not asked again for a while:
        // otherwise every login (anyone may start one) would wait for it.
        let failed_lately = cache
            .failed
            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE);
        if !failed_lately {
            let fetched = tokio::time::timeout(
                HTTP_TIMEOUT,
                CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http),
            )
            .await;
            let error = match fetched {
                Ok(Ok(metadata)) => {
                    cache.discovered = Some(Discovered {
                        metadata: metadata.clone(),
                        fetched: Instant::now(),
                    });
                    cache.failed = None;
                    return Ok(metadata);
                }
                Ok(Err(e)) => chain(&e),
                Err(_) => format!("no answer within {} s", HTTP_TIMEOUT.as_secs()),
            };
            cache.failed = Some(Instant::now());
            tracing::error!(issuer = %self.settings.issuer, error = %error, "OpenID provider discovery failed");
        }
        match &cache.discovered {
            Some(d) => Ok(d.metadata.clone()),
            None => Err(Refusal::new(format!(
                "Single sign-on is not available: the identity provider at {} cannot be reached. \
                 Try again later, or log in with a password.",
                self.label
            ))),
        }
    }

    fn client(&self, metadata: CoreProviderMetadata) -> Client {
        Client::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.0.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Starts a login: the provider's authorization URL and the `state`
    /// for the browser's cookie.
    pub async fn begin(&self, next: &str) -> Result<(url::Url, String), Refusal> {
        let client = self.client(self.metadata(false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let mut pending = self.pending.lock().expect("pending logins lock");
        pending.retain(|_, p| p.started.elapsed() < PENDING_TTL);
        if pending.len() >= MAX_PENDING {
            return Err(Refusal::new(
                "Too many single sign-on logins are in progress; try again in a few minutes.",
            ));
        }
        pending.insert(
            state.secret().clone(),
            Pending {
                verifier: verifier.secret().clone(),
                nonce,
                next: next.to_owned(),
                started: Instant::now(),
            },
        );
        Ok((url, state.secret().clone()))
    }

    /// Finishes a login from the provider's answer and the browser's state
    /// cookie.
    pub async fn finish(
        &self,
        answer: &CallbackQuery,
        cookie_state: Option<&str>,
    ) -> Result<Verified, (Refusal, String)> {
        let Some(state) = answer.state.as_deref() else {
            return Err((
                Refusal::new("The identity provider's answer has no state; log in again."),
                "/".into(),
            ));
        };
        // The pending login is taken out before anything else is checked,
        // so the same answer can never be used twice.
        let pending = {
            let mut pending = self.pending.lock().expect("pending logins lock");
            pending
                .remove(state)
                .filter(|p| p.started.elapsed() < PENDING_TTL)
        };
        let Some(pending) = pending else {
            return Err((
                Refusal::new(
                    "This single sign-on login is unknown, has expired or was already used; log in again.",
                ),
                "/".into(),
            ));
        };
        let next = pending.next.clone();
        if cookie_state != Some(state) {
            return Err((
                Refusal::new(
                    "This single sign-on answer does not belong to a login started in this browser; log in again.",
                ),
                next,
            ));
        }
        self.verify(answer, pending)
            .await
            .map(|(name, role)| Verified {
                name,
                role,
                next: next.clone(),
            })
            .map_err(|r| (r, next))
    }

    async fn verify(
        &self,
        answer: &CallbackQuery,
        pending: Pending,
    ) -> Result<(String, Role), Refusal> {
        if let Some(error) = &answer.error {
            let description = answer
                .error_description
                .as_deref()
                .map(|d| format!(": {}", shorten(d)))
                .unwrap_or_default();
            return Err(Refusal::new(format!(
                "The identity provider refused the login ({}{description}).",
                shorten(error)
            )));
        }
        // RFC 9207: an answer that says it comes from another issuer is a
        // mix-up, whatever it carries.
        if let Some(iss) = &answer.iss {
            if iss != self.issuer.as_str() {
                return Err(Refusal::new(format!(
                    "The answer names issuer `{}`, not {}; log in again.",
                    shorten(iss),
                    self.issuer.as_str()
                )));
            }
        }
        let Some(code) = answer.code.clone() else {
            return Err(Refusal::new(
                "The identity provider's answer has no authorization code; log in again.",
            ));
        };
        let client = self.client(self.metadata(false).await?);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| Refusal::new(format!("Single sign-on is misconfigured: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                let detail = chain(&e);
                tracing::warn!(error = %detail, "OpenID code exchange failed");
                Refusal::new(format!(
                    "The identity provider did not accept the login ({}); log in again.",
                    shorten(&detail)
                ))
            })?;
        let id_token = tokens.id_token().ok_or_else(|| {
            Refusal::new("The identity provider sent no ID token; is the `openid` scope allowed for this client?")
        })?;
        let first = id_token
            .claims(&client.id_token_verifier(), &pending.nonce)
            .cloned();
        let (client, claims) = match first {
            Ok(claims) => (client, claims),
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                // Keys may have rotated since they were fetched.
                let client = self.client(self.metadata(true).await?);
                let claims = id_token
                    .claims(&client.id_token_verifier(), &pending.nonce)
                    .cloned()
                    .map_err(id_token_refused)?;
                (client, claims)
            }
            Err(e) => return Err(id_token_refused(e)),
        };
        if let Some(expected) = claims.access_token_hash() {
            let verifier = client.id_token_verifier();
            let actual = id_token
                .signing_alg()
                .ok()
                .zip(id_token.signing_key(&verifier).ok())
                .and_then(|(alg, key)| {
                    AccessTokenHash::from_token(tokens.access_token(), alg, key).ok()
                });
            if actual.as_ref() != Some(expected) {
                return Err(Refusal::new(
                    "The identity provider's access token does not match its ID token; log in again.",
                ));
            }
        }
        let mut all = match serde_json::to_value(&claims) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        // Many providers send groups and names only from the userinfo
        // endpoint (oidc-provider, Keycloak by default); the subject there
        // must be the ID token's.
        let wanted = [
            self.settings.role_claim.as_str(),
            self.settings.username_claim.as_str(),
        ];
        if wanted.iter().any(|c| !all.contains_key(*c)) && client.user_info_url().is_some() {
            let info: Result<UserInfoClaims<OtherClaims, CoreGenderClaim>, _> = match client
                .user_info(
                    tokens.access_token().clone(),
                    Some(claims.subject().clone()),
                ) {
                Ok(request) => request
                    .request_async(&self.http)
                    .await
                    .map_err(|e| chain(&e)),
                Err(e) => Err(e.to_string()),
            };
            match info.map(|i| serde_json::to_value(&i)) {
                Ok(Ok(Value::Object(extra))) => {
                    for (k, v) in extra {
                        all.entry(k).or_insert(v);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "OpenID userinfo request failed");
                    return Err(Refusal::new(format!(
                        "The identity provider's user information could not be read ({}); log in again.",
                        shorten(&e)
                    )));
                }
            }
        }
        let name = self.user_name(&all)?;
        let role = self.role(&all).ok_or_else(|| Refusal {
            message: format!(
                "`{name}` has no Switchyard role: none of the `{}` values the identity provider \
                 sent is mapped to one (--oidc-role-map). Ask an administrator to map one of \
                 your groups.",
                self.settings.role_claim
            ),
            name: Some(name.clone()),
        })?;
        Ok((name, role))
    }

    /// The configured claim, else `email`, else `sub`; refused unless it is
    /// a valid Switchyard user name (it ends up in audit lines and revision
    /// authors).
    fn user_name(&self, claims: &Map<String, Value>) -> Result<String, Refusal> {
        let mut order = vec![self.settings.username_claim.as_str()];
        for fallback in ["email", "sub"] {
            if !order.contains(&fallback) {
                order.push(fallback);
            }
        }
        let (claim, value) = order
            .iter()
            .find_map(|c| match claims.get(*c) {
                Some(Value::String(s)) if !s.is_empty() => Some((*c, s.as_str())),
                _ => None,
            })
            .ok_or_else(|| {
                Refusal::new(format!(
                    "The identity provider sent none of the claims {} to name you by.",
                    order
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let valid = value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'));
        if !valid {
            return Err(Refusal::new(format!(
                "The identity provider's `{claim}` claim `{}` is not a usable user name: \
                 1 to 64 letters, digits, `.`, `-`, `_` or `@` (choose another claim with \
                 --oidc-username-claim).",
                shorten(value)
            )));
        }
        Ok(value.to_owned())
    }

    /// The highest role whose value the role claim holds (a string, or an
    /// array of strings).
    fn role(&self, claims: &Map<String, Value>) -> Option<Role> {
        let values: Vec<&str> = match claims.get(&self.settings.role_claim) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        self.settings
            .role_map
            .iter()
            .filter(|(_, value)| values.contains(&value.as_str()))
            .map(|(role, _)| *role)
            .max()
    }
}

fn id_token_refused(e: ClaimsVerificationError) -> Refusal {
    tracing::warn!(error = %chain(&e), "OpenID ID token refused");
    Refusal::new(format!(
        "The identity provider's ID token did not verify ({}); log in again.",
        shorten(&e.to_string())
    ))
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Text from the provider, cut and without control characters, for a
/// message shown on the login page.
fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(200).flat_map(char::escape_debug).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

async fn login(State(state): State<AppState>, req: Request) -> Response {
    let query = Query::<LoginQuery>::try_from_uri(req.uri()).map(|q| q.0);
    let next = safe_next(query.ok().and_then(|q| q.next).as_deref());
    let Some(oidc) = state.oidc.clone() else {
        return not_configured();
    };
    match oidc.begin(&next).await {
        Ok((url, login_state)) => {
            let mut response = Redirect::to(url.as_str()).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                state_cookie(&login_state, PENDING_TTL.as_secs(), state.secure_cookies),
            );
            response
        }
        Err(refusal) => back_to_login(&refusal.message, &next, state.secure_cookies),
    }
}

async fn callback(State(state): State<AppState>, req: Request) -> Response {
    let Some(oidc) = state.oidc.clone() else {
        return not_configured();
    };
    let address = client_address(&req);
    let answer = Query::<CallbackQuery>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    let cookie_state = cookie(req.headers(), STATE_COOKIE);
    let source = oidc.source();
    let verified = match oidc.finish(&answer, cookie_state.as_deref()).await {
        Ok(verified) => verified,
        Err((refusal, next)) => {
            match &refusal.name {
                Some(name) => {
                    state
                        .services
                        .login_sso_refused(name, &source, address.as_deref(), &refusal.message)
                        .await
                }
                None => tracing::warn!(reason = %refusal.message, "single sign-on login refused"),
            }
            return back_to_login(&refusal.message, &next, state.secure_cookies);
        }
    };
    match state
        .services
        .login_sso(&verified.name, verified.role, &source, address.as_deref())
        .await
    {
        Ok(session) => logged_in(
            &verified.next,
            super::session::session_cookie(
                &session.secret,
                state.session_max_age_s,
                state.secure_cookies,
            ),
            state.secure_cookies,
        ),
        Err(e) => {
            let message = match e {
                engine::Error::Forbidden { message } => message,
                engine::Error::Unauthenticated { message } => message,
                engine::Error::Invalid(_) => format!(
                    "`{}` is not a usable user name; choose another claim with --oidc-username-claim.",
                    verified.name
                ),
                other => {
                    tracing::error!(error = %other, "single sign-on login failed");
                    "Login is not possible right now; see the server log.".to_owned()
                }
            };
            back_to_login(&message, &verified.next, state.secure_cookies)
        }
    }
}

/// The session cookie is SameSite=Strict, and browsers do not send it on
/// a redirect that continues the provider's cross-site navigation: a 303
/// straight to `next` would arrive without it and land on the login page
/// again. This page's own navigation is same-site, so the cookie goes
/// along.
fn logged_in(next: &str, session: HeaderValue, secure: bool) -> Response {
    let target = html_attr(next);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"0;url={target}\"><title>Logged in</title></head>\
         <body><p>Logged in. <a href=\"{target}\">Continue</a></p></body></html>"
    );
    let mut response = (StatusCode::OK, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, session);
    headers.append(header::SET_COOKIE, state_cookie("", 0, secure));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn back_to_login(message: &str, next: &str, secure: bool) -> Response {
    let mut response = Redirect::to(&format!(
        "/login?error={}&next={}",
        urlencode(message),
        urlencode(next)
    ))
    .into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, state_cookie("", 0, secure));
    response
}

fn not_configured() -> Response {
    (
        StatusCode::NOT_FOUND,
        "single sign-on is not configured on this server (see --oidc-issuer)",
    )
        .into_response()
}

/// SameSite=Lax, not Strict: the callback is a top-level navigation coming
/// from the provider's site, on which a Strict cookie is not sent. Only
/// sent to `/auth/oidc/`.
fn state_cookie(value: &str, max_age_s: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{STATE_COOKIE}={value}; Path=/auth/oidc/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .expect("a state of base64url characters is a valid header")
}

/// `next` is a path on this server ([`safe_next`]); escaped for an HTML
/// attribute, and with quotes and spaces percent-encoded so the refresh
/// header's URL cannot end early.
fn html_attr(next: &str) -> String {
    let mut out = String::with_capacity(next.len());
    for c in next.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("%22"),
            '\'' => out.push_str("%27"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            ' ' => out.push_str("%20"),
            '`' => out.push_str("%60"),
            c => out.push(c),
        }
    }
    out
}

/// The console's login page shows a "Log in with …" button when single
/// sign-on is on.
pub fn login_button(oidc: Option<&Arc<Oidc>>) -> Option<app::auth::SsoLogin> {
    oidc.map(|o| app::auth::SsoLogin {
        label: o.label().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc(role_map: &[(Role, &str)], username_claim: &str) -> Oidc {
        Oidc::new(
            OidcSettings {
                issuer: "https://login.example.com".into(),
                client_id: "switchyard".into(),
                client_secret: crate::settings::Password("x".into()),
                redirect_url: None,
                role_claim: "groups".into(),
                role_map: role_map
                    .iter()
                    .map(|(r, v)| (*r, (*v).to_owned()))
                    .collect(),
                username_claim: username_claim.into(),
                scopes: vec![],
            },
            url::Url::parse("http://127.0.0.1:3000/auth/oidc/callback").unwrap(),
        )
        .unwrap()
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_highest_mapped_role_wins_and_no_match_is_none() {
        let o = oidc(
            &[
                (Role::Viewer, "staff"),
                (Role::Admin, "admins"),
                (Role::Operator, "ops"),
            ],
            "preferred_username",
        );
        let role = |v: Value| o.role(&claims(serde_json::json!({ "groups": v })));
        assert_eq!(
            role(serde_json::json!(["staff", "admins", "ops"])),
            Some(Role::Admin)
        );
        assert_eq!(role(serde_json::json!("ops")), Some(Role::Operator));
        assert_eq!(role(serde_json::json!(["other", 3])), None);
        assert_eq!(role(serde_json::json!({"admins": true})), None);
        assert_eq!(o.role(&claims(serde_json::json!({}))), None);
    }

    #[test]
    fn user_names_fall_back_and_are_refused_outside_the_charset() {
        let o = oidc(&[(Role::Viewer, "x")], "preferred_username");
        let name = |v: Value| o.user_name(&claims(v)).map_err(|r| r.message);
        assert_eq!(
            name(serde_json::json!({"preferred_username": "ann", "email": "a@x", "sub": "1"}))
                .unwrap(),
            "ann"
        );
        assert_eq!(
            name(serde_json::json!({"email": "a@x.test", "sub": "1"})).unwrap(),
            "a@x.test"
        );
        assert_eq!(name(serde_json::json!({"sub": "abc-1"})).unwrap(), "abc-1");
        let bad = name(serde_json::json!({"preferred_username": "ann\n[forged] x"})).unwrap_err();
        assert!(
            bad.contains("not a usable user name") && bad.contains("\\n"),
            "{bad}"
        );
        assert!(name(serde_json::json!({}))
            .unwrap_err()
            .contains("`preferred_username`, `email`, `sub`"));
    }

    #[test]
    fn next_cannot_break_out_of_the_refresh_page() {
        assert_eq!(
            html_attr("/runs?a=1&b=\"><script>"),
            "/runs?a=1&amp;b=%22%3E%3Cscript%3E"
        );
    }
}
