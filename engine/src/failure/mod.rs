//! Failure classes and what the router does about each (DESIGN §3). Every
//! failed attempt gets exactly one [`FailureClass`]; the class alone decides
//! the [`Action`], so the policy is one table an operator can read.

#[cfg(feature = "server")]
mod classify;
#[cfg(feature = "server")]
mod hint;

#[cfg(feature = "server")]
pub use classify::{classify_body_error, classify_http, classify_stream_error, HttpFailure};
#[cfg(feature = "server")]
pub use hint::{hint_in_text, parse_duration_text, retry_hint};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a failure comes from; shown next to the class in the console.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    Process,
    Config,
    Model,
    Request,
    Run,
}

impl Layer {
    pub const ALL: [Layer; 5] = [
        Layer::Process,
        Layer::Config,
        Layer::Model,
        Layer::Request,
        Layer::Run,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Process => "process",
            Layer::Config => "config",
            Layer::Model => "model",
            Layer::Request => "request",
            Layer::Run => "run",
        }
    }
}

/// What the router does after a failure of a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Codex process-layer failure: apply `embeddedHarness.fallback` (§2).
    HarnessFallback,
    /// Skip this candidate; nothing is cooled down for anyone else.
    SkipCandidate,
    /// Next candidate, and cool this (provider, model) down.
    NextWithCooldown,
    /// Next candidate whose context window is larger.
    NextLargerWindow,
    /// The request itself is the problem; retrying elsewhere won't help.
    FailRun,
    /// The run is over (its budget, an operator, or a tool ended it).
    EndRun,
}

macro_rules! failure_classes {
    ($( $variant:ident = $name:literal, $layer:ident; )*) => {
        /// One class per failed attempt.
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum FailureClass { $( $variant, )* }

        impl FailureClass {
            pub const ALL: &'static [FailureClass] = &[ $( FailureClass::$variant, )* ];

            /// The class as it appears in decision logs and the API.
            pub fn as_str(self) -> &'static str {
                match self { $( FailureClass::$variant => $name, )* }
            }

            pub fn layer(self) -> Layer {
                match self { $( FailureClass::$variant => Layer::$layer, )* }
            }
        }
    };
}

failure_classes! {
    SpawnFailed = "spawn_failed", Process;
    HarnessCrashed = "harness_crashed", Process;
    HandshakeTimeout = "handshake_timeout", Process;
    HarnessHung = "harness_hung", Process;
    ProtocolError = "protocol_error", Process;
    HarnessMismatch = "harness_mismatch", Config;
    ProviderNotFound = "provider_not_found", Config;
    ModelNotFound = "model_not_found", Config;
    AuthMissing = "auth_missing", Config;
    RateLimit = "rate_limit", Model;
    UsageLimit = "usage_limit", Model;
    Billing = "billing", Model;
    Auth = "auth", Model;
    AuthPermanent = "auth_permanent", Model;
    Overloaded = "overloaded", Model;
    ServerError = "server_error", Model;
    Timeout = "timeout", Model;
    EmptyResponse = "empty_response", Model;
    StreamInterrupted = "stream_interrupted", Model;
    ContextOverflow = "context_overflow", Request;
    ContentPolicy = "content_policy", Request;
    Format = "format", Request;
    RunTimeout = "run_timeout", Run;
    Cancelled = "cancelled", Run;
    ToolError = "tool_error", Run;
}

impl FailureClass {
    pub fn action(self) -> Action {
        match (self.layer(), self) {
            (Layer::Process, _) => Action::HarnessFallback,
            (Layer::Config, _) => Action::SkipCandidate,
            (Layer::Model, _) => Action::NextWithCooldown,
            (_, FailureClass::ContextOverflow) => Action::NextLargerWindow,
            (Layer::Request, _) => Action::FailRun,
            (Layer::Run, _) => Action::EndRun,
        }
    }

    /// Failures that say something about the provider's health, and so count
    /// towards its circuit breaker. Rate and usage limits are about one model
    /// and one account, not about whether the provider is up.
    pub fn counts_against_provider(self) -> bool {
        matches!(
            self,
            FailureClass::Overloaded
                | FailureClass::ServerError
                | FailureClass::Timeout
                | FailureClass::EmptyResponse
                | FailureClass::StreamInterrupted
        )
    }

    /// Classes whose cause is the caller's account rather than a passing
    /// fault: one occurrence is enough to cool the model down for everyone.
    /// Transient classes need [`crate::router::Policy::transient_failures_before_cooldown`]
    /// in a row, so that one slow or unlucky caller cannot take a model away
    /// from every other agent.
    pub fn is_account_level(self) -> bool {
        matches!(
            self,
            FailureClass::RateLimit
                | FailureClass::UsageLimit
                | FailureClass::Billing
                | FailureClass::Auth
                | FailureClass::AuthPermanent
        )
    }

    /// The smallest cooldown the class gets even when the server hints less.
    pub fn min_cooldown_ms(self) -> i64 {
        match self {
            FailureClass::UsageLimit | FailureClass::Billing => 10 * 60_000,
            FailureClass::AuthPermanent => 25 * 60_000,
            _ => 0,
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FailureClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FailureClass::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown failure class `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_maps_to_the_design_action() {
        let expected = [
            ("spawn_failed", Action::HarnessFallback),
            ("harness_crashed", Action::HarnessFallback),
            ("handshake_timeout", Action::HarnessFallback),
            ("harness_hung", Action::HarnessFallback),
            ("protocol_error", Action::HarnessFallback),
            ("harness_mismatch", Action::SkipCandidate),
            ("provider_not_found", Action::SkipCandidate),
            ("model_not_found", Action::SkipCandidate),
            ("auth_missing", Action::SkipCandidate),
            ("rate_limit", Action::NextWithCooldown),
            ("usage_limit", Action::NextWithCooldown),
            ("billing", Action::NextWithCooldown),
            ("auth", Action::NextWithCooldown),
            ("auth_permanent", Action::NextWithCooldown),
            ("overloaded", Action::NextWithCooldown),
            ("server_error", Action::NextWithCooldown),
            ("timeout", Action::NextWithCooldown),
            ("empty_response", Action::NextWithCooldown),
            ("stream_interrupted", Action::NextWithCooldown),
            ("context_overflow", Action::NextLargerWindow),
            ("content_policy", Action::FailRun),
            ("format", Action::FailRun),
            ("run_timeout", Action::EndRun),
            ("cancelled", Action::EndRun),
            ("tool_error", Action::EndRun),
        ];
        assert_eq!(expected.len(), FailureClass::ALL.len());
        for (name, action) in expected {
            let class: FailureClass = name.parse().unwrap();
            assert_eq!(class.as_str(), name);
            assert_eq!(class.action(), action, "{name}");
            assert_eq!(
                serde_json::to_value(class).unwrap(),
                serde_json::json!(name)
            );
        }
    }
}
