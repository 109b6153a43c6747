//! Differences between two config revisions: structural (one entry per
//! changed JSON path) for the console's change list, and a unified text diff
//! of the pretty-printed JSON for reading side by side.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "server")]
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    pub changes: Vec<Change>,
    pub unified: String,
}

/// Path syntax as in validation problems: `a.b[2].c`.
#[cfg(feature = "server")]
fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

#[cfg(feature = "server")]
fn walk(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<Change>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                walk(&join(path, k), a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                walk(&format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (Some(a), Some(b)) if a == b => {}
        (a, b) => out.push(Change {
            path: if path.is_empty() {
                "(root)".into()
            } else {
                path.to_owned()
            },
            kind: match (a, b) {
                (None, _) => ChangeKind::Added,
                (_, None) => ChangeKind::Removed,
                _ => ChangeKind::Changed,
            },
            before: a.cloned(),
            after: b.cloned(),
        }),
    }
}

#[cfg(feature = "server")]
pub fn diff(before: &Value, after: &Value, before_label: &str, after_label: &str) -> Diff {
    let mut changes = Vec::new();
    walk("", Some(before), Some(after), &mut changes);
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON value serializes") + "\n";
    let (a, b) = (pretty(before), pretty(after));
    let unified = similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(before_label, after_label)
        .to_string();
    Diff { changes, unified }
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn structural_changes_are_listed_by_path() {
        let a = json!({"agents": {"entries": {"re": {"embeddedHarness": {"fallback": "none"}}, "qa": {}}},
                       "chain": ["x", "y"]});
        let b = json!({"agents": {"entries": {"re": {"embeddedHarness": {"fallback": "pi"}}, "new": {}}},
                       "chain": ["x"]});
        let d = diff(&a, &b, "#1", "#2");
        let summary: Vec<(&str, &ChangeKind)> = d
            .changes
            .iter()
            .map(|c| (c.path.as_str(), &c.kind))
            .collect();
        assert_eq!(
            summary,
            [
                ("agents.entries.new", &ChangeKind::Added),
                ("agents.entries.qa", &ChangeKind::Removed),
                (
                    "agents.entries.re.embeddedHarness.fallback",
                    &ChangeKind::Changed
                ),
                ("chain[1]", &ChangeKind::Removed),
            ]
        );
        assert!(d.unified.starts_with("--- #1\n+++ #2\n"), "{}", d.unified);
        assert!(
            d.unified.contains("-          \"fallback\": \"none\"\n"),
            "{}",
            d.unified
        );
        assert!(
            d.unified.contains("+          \"fallback\": \"pi\"\n"),
            "{}",
            d.unified
        );
        assert!(diff(&a, &a, "a", "a").changes.is_empty());
    }
}
