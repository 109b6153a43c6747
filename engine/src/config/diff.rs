//! Differences between two config revisions: structural (one entry per
//! changed JSON path) for the console's change list, and a unified text diff
//! of the pretty-printed JSON for reading side by side.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "server")]
use std::collections::BTreeSet;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    pub changes: Vec<Change>,
    pub unified: String,
    /// The changed regions, with context, as aligned left/right lines.
    pub side_by_side: Vec<Row>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    Same,
    Removed,
    Added,
    Changed,
    /// Unchanged lines left out between two changed regions.
    Gap,
}

/// One line of the side-by-side view: 1-based line numbers and text.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub kind: RowKind,
    pub left: Option<(usize, String)>,
    pub right: Option<(usize, String)>,
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
    let text_diff = similar::TextDiff::from_lines(&a, &b);
    let unified = text_diff
        .unified_diff()
        .context_radius(3)
        .header(before_label, after_label)
        .to_string();
    let side_by_side = side_by_side(&a, &b, &text_diff);
    Diff {
        changes,
        unified,
        side_by_side,
    }
}

#[cfg(feature = "server")]
fn side_by_side(a: &str, b: &str, diff: &similar::TextDiff<'_, '_, '_, str>) -> Vec<Row> {
    use similar::DiffOp;
    let (left, right): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let l = |i: usize| Some((i + 1, left[i].to_owned()));
    let r = |i: usize| Some((i + 1, right[i].to_owned()));
    let mut rows = Vec::new();
    for (g, group) in diff.grouped_ops(3).iter().enumerate() {
        if g > 0 {
            rows.push(Row {
                kind: RowKind::Gap,
                left: None,
                right: None,
            });
        }
        for op in group {
            match *op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => rows.extend((0..len).map(|k| Row {
                    kind: RowKind::Same,
                    left: l(old_index + k),
                    right: r(new_index + k),
                })),
                DiffOp::Delete {
                    old_index, old_len, ..
                } => rows.extend((0..old_len).map(|k| Row {
                    kind: RowKind::Removed,
                    left: l(old_index + k),
                    right: None,
                })),
                DiffOp::Insert {
                    new_index, new_len, ..
                } => rows.extend((0..new_len).map(|k| Row {
                    kind: RowKind::Added,
                    left: None,
                    right: r(new_index + k),
                })),
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => rows.extend((0..old_len.max(new_len)).map(|k| Row {
                    kind: RowKind::Changed,
                    left: (k < old_len).then(|| l(old_index + k)).flatten(),
                    right: (k < new_len).then(|| r(new_index + k)).flatten(),
                })),
            }
        }
    }
    rows
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
        let changed: Vec<_> = d
            .side_by_side
            .iter()
            .filter(|r| r.kind == RowKind::Changed)
            .collect();
        assert!(
            changed
                .iter()
                .any(|r| r.left.as_ref().unwrap().1.contains("\"none\"")
                    && r.right.as_ref().unwrap().1.contains("\"pi\"")),
            "{:#?}",
            d.side_by_side
        );
    }
}
