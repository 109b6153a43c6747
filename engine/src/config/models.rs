//! A provider's model list. Written as OpenClaw writes it: each entry a
//! model name, or an object `{id, contextWindow, …}` when the model has
//! settings of its own (a window, OpenClaw's `name`, `params`, `maxTokens`,
//! …). Settings Switchyard does not read are kept and written back, so an
//! imported OpenClaw file keeps them on export.

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ops::Deref;

/// The models in list order; derefs to their names, which is what most
/// callers want (`provider.models.iter()`, `.contains(..)`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Models {
    names: Vec<String>,
    settings: BTreeMap<String, ModelSettings>,
}

/// One model's own settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelSettings {
    /// Tokens this model accepts; overrides the provider's `contextWindow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl ModelSettings {
    fn is_empty(&self) -> bool {
        self.context_window.is_none() && self.extra.is_empty()
    }
}

impl Models {
    pub fn settings(&self, model: &str) -> Option<&ModelSettings> {
        self.settings.get(model)
    }

    /// Adds a model (no-op when listed), with its settings if any.
    pub fn push(&mut self, name: impl Into<String>, settings: ModelSettings) {
        let name = name.into();
        if !self.names.contains(&name) {
            self.names.push(name.clone());
        }
        if !settings.is_empty() {
            self.settings.insert(name, settings);
        }
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.names.clone()
    }
}

impl Deref for Models {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.names
    }
}

impl From<Vec<String>> for Models {
    fn from(names: Vec<String>) -> Self {
        let mut models = Models::default();
        for name in names {
            models.push(name, ModelSettings::default());
        }
        models
    }
}

impl<const N: usize> From<[&str; N]> for Models {
    fn from(names: [&str; N]) -> Self {
        names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .into()
    }
}

impl Serialize for Models {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries: Vec<Value> = self
            .names
            .iter()
            .map(|name| match self.settings.get(name) {
                None => Value::String(name.clone()),
                Some(settings) => {
                    let mut o = Map::new();
                    o.insert("id".into(), Value::String(name.clone()));
                    if let Ok(Value::Object(rest)) = serde_json::to_value(settings) {
                        o.extend(rest);
                    }
                    Value::Object(o)
                }
            })
            .collect();
        entries.serialize(s)
    }
}

/// A name, or an object with an `id` and the model's settings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Name(String),
    Spec {
        id: String,
        #[serde(flatten)]
        settings: ModelSettings,
    },
}

impl<'de> Deserialize<'de> for Models {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries: Vec<Value> = Vec::deserialize(d)?;
        let mut models = Models::default();
        for (i, value) in entries.into_iter().enumerate() {
            let entry = Entry::deserialize(value).map_err(|_| {
                de::Error::custom(format!(
                    "models[{i}]: expected a model name or an object with a string `id` (and settings such as `contextWindow`)"
                ))
            })?;
            let (name, settings) = match entry {
                Entry::Name(name) => (name, ModelSettings::default()),
                Entry::Spec { id, settings } => (id, settings),
            };
            // A name listed twice is kept, for the validator to report
            // with every other problem at once.
            if !settings.is_empty() {
                models.settings.insert(name.clone(), settings);
            }
            models.names.push(name);
        }
        Ok(models)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_objects_round_trip_in_order_with_their_settings() {
        let text = json!(["a", {"id": "b", "contextWindow": 8000, "name": "B", "params": {"num_ctx": 8000}}, "c"]);
        let models: Models = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(&*models, ["a", "b", "c"]);
        assert_eq!(models.settings("b").unwrap().context_window, Some(8000));
        assert_eq!(serde_json::to_value(&models).unwrap(), text);
    }

    #[test]
    fn a_bad_entry_names_its_index() {
        let err = serde_json::from_value::<Models>(json!(["a", {"contextWindow": 1}])).unwrap_err();
        assert!(err.to_string().contains("models[1]"), "{err}");
        let twice = serde_json::from_value::<Models>(json!(["a", {"id": "a"}])).unwrap();
        assert_eq!(&*twice, ["a", "a"], "kept for the validator to report");
    }
}
