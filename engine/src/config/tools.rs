//! Which tools an agent's native engine offers. Switchyard's own form is a
//! list (`["exec", "read_file"]`); an imported OpenClaw agent brings its tool
//! *policy* instead (`{"deny": ["browser"]}`, `{"profile": "coding",
//! "allow": [...]}`), which is kept as written (and exported back) and
//! applied to the tools Switchyard has, so a denied `exec` stays denied.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::Tool;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ToolSetting {
    List(Vec<Tool>),
    Policy(ToolPolicy),
}

/// OpenClaw's per-agent tool policy. Only the keys that decide which tools
/// run are read; the rest (`exec`, `fs`, `byProvider`, …) are kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also_allow: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

const ALL: [Tool; 4] = [Tool::Exec, Tool::ReadFile, Tool::WriteFile, Tool::ListDir];

/// OpenClaw's tool names and groups (its tool catalog, sections `fs` and
/// `runtime`) → the Switchyard tools that do the same. Names with no
/// Switchyard counterpart (`browser`, `web_search`, …) map to nothing.
fn switchyard_tools(name: &str) -> &'static [Tool] {
    match name.trim().to_ascii_lowercase().as_str() {
        "*" | "all" => &ALL,
        "exec" | "bash" | "process" | "code_execution" => &[Tool::Exec],
        "read" => &[Tool::ReadFile],
        "write" | "edit" | "apply_patch" => &[Tool::WriteFile],
        "ls" => &[Tool::ListDir],
        "group:fs" => &[Tool::ReadFile, Tool::WriteFile, Tool::ListDir],
        "group:runtime" => &[Tool::Exec],
        _ => &[],
    }
}

impl ToolPolicy {
    /// The Switchyard tools this policy lets the agent use: the profile's
    /// base (`minimal` and `messaging` have no file or shell tools; unset,
    /// `coding` and `full` have all), narrowed to `allow` when given, plus
    /// `alsoAllow`, minus `deny` (deny wins, as in OpenClaw).
    pub fn resolve(&self) -> Vec<Tool> {
        let expand = |names: &Option<Vec<String>>| -> Vec<Tool> {
            names
                .iter()
                .flatten()
                .flat_map(|n| switchyard_tools(n).iter().copied())
                .collect()
        };
        let base: Vec<Tool> = match self.profile.as_deref() {
            Some("minimal" | "messaging") => Vec::new(),
            _ => ALL.to_vec(),
        };
        let mut tools: Vec<Tool> = match &self.allow {
            Some(_) => expand(&self.allow),
            None => base,
        };
        tools.extend(expand(&self.also_allow));
        let denied = expand(&self.deny);
        let mut out: Vec<Tool> = ALL
            .iter()
            .copied()
            .filter(|t| tools.contains(t) && !denied.contains(t))
            .collect();
        out.dedup();
        out
    }

    /// The policy that offers exactly `tools` (for an OpenClaw export of a
    /// Switchyard list).
    pub fn allowing(tools: &[Tool]) -> Self {
        let names = tools
            .iter()
            .map(|t| match t {
                Tool::Exec => "exec",
                Tool::ReadFile => "read",
                Tool::WriteFile => "write",
                Tool::ListDir => "ls",
            })
            .map(str::to_owned)
            .collect();
        ToolPolicy {
            allow: Some(names),
            ..ToolPolicy::default()
        }
    }
}

impl ToolSetting {
    pub fn resolve(&self) -> Vec<Tool> {
        match self {
            ToolSetting::List(list) => list.clone(),
            ToolSetting::Policy(policy) => policy.resolve(),
        }
    }
}

impl<'de> Deserialize<'de> for ToolSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            list @ Value::Array(_) => serde_json::from_value(list)
                .map(ToolSetting::List)
                .map_err(|e| de::Error::custom(format!("{e}; tools are exec, read_file, write_file, list_dir"))),
            policy @ Value::Object(_) => serde_json::from_value(policy)
                .map(ToolSetting::Policy)
                .map_err(|e| de::Error::custom(format!("an OpenClaw tool policy: {e}"))),
            _ => Err(de::Error::custom(
                "expected a list of tools ([\"exec\", \"read_file\", …]) or an OpenClaw tool policy ({\"allow\": […], \"deny\": […]})",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(v: Value) -> Vec<Tool> {
        serde_json::from_value::<ToolSetting>(v).unwrap().resolve()
    }

    #[test]
    fn openclaw_policies_apply_to_switchyard_tools() {
        assert_eq!(policy(json!({"deny": ["browser"]})), ALL.to_vec());
        assert_eq!(
            policy(json!({"deny": ["exec"]})),
            vec![Tool::ReadFile, Tool::WriteFile, Tool::ListDir]
        );
        assert_eq!(
            policy(json!({"allow": ["read", "ls", "web_search"]})),
            vec![Tool::ReadFile, Tool::ListDir]
        );
        assert_eq!(policy(json!({"profile": "messaging"})), Vec::<Tool>::new());
        assert_eq!(
            policy(json!({"profile": "minimal", "alsoAllow": ["group:runtime"]})),
            vec![Tool::Exec]
        );
        assert_eq!(
            policy(json!({"allow": ["*"], "deny": ["group:fs"]})),
            vec![Tool::Exec]
        );
        assert_eq!(policy(json!(["list_dir"])), vec![Tool::ListDir]);
    }

    #[test]
    fn a_policy_keeps_what_it_does_not_read() {
        let v = json!({"deny": ["browser"], "fs": {"workspaceOnly": true}});
        let s: ToolSetting = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), v);
        assert_eq!(
            ToolPolicy::allowing(&[Tool::Exec, Tool::ListDir])
                .allow
                .unwrap(),
            ["exec", "ls"]
        );
    }

    #[test]
    fn neither_list_nor_object_is_refused_with_both_forms_named() {
        let err = serde_json::from_value::<ToolSetting>(json!("exec"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("OpenClaw tool policy"), "{err}");
        let err = serde_json::from_value::<ToolSetting>(json!(["shell"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("read_file"), "{err}");
    }
}
