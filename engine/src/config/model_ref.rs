//! `provider/model` references. The provider is the first segment; the model
//! part may itself contain slashes (`openrouter/deepseek/deepseek-v3.2`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use super::ProviderId;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelRef {
    provider: ProviderId,
    model: String,
}

impl ModelRef {
    pub fn provider(&self) -> &ProviderId {
        &self.provider
    }

    pub fn model(&self) -> &str {
        &self.model
    }
}

impl FromStr for ModelRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let shown = super::limits::show(s);
        let (provider, model) = s.split_once('/').ok_or_else(|| {
            format!(
                "model reference `{shown}` must be `provider/model`, e.g. `ollama-cloud/glm-5.1`"
            )
        })?;
        if model.is_empty() || model.chars().any(char::is_whitespace) {
            return Err(format!(
                "model reference `{shown}` has an empty or blank model part"
            ));
        }
        super::limits::check_model_name(model)
            .map_err(|e| format!("model reference `{shown}`: {e}"))?;
        Ok(ModelRef {
            provider: ProviderId::try_from(provider)?,
            model: model.to_owned(),
        })
    }
}

impl TryFrom<String> for ModelRef {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ModelRef> for String {
    fn from(r: ModelRef) -> String {
        r.to_string()
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// On the wire a model reference is a string: `provider/model`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ModelRef {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <String as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ModelRef {}
