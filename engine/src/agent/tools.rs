//! The tools the native engine offers the model (DESIGN §4): `exec`,
//! `read_file`, `write_file`, `list_dir`, all confined to the agent's
//! [`Workspace`].
//!
//! [`call`] never fails and never panics on model input: an unknown or disabled
//! tool, bad arguments, a path outside the workspace, an unreadable file — each
//! becomes a [`ToolResult`] with `is_error: true` and a message the model can act
//! on, and the run goes on.

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use super::exec::{exec, ExecLimits, ExecOutcome};
use super::workspace::Workspace;
use crate::config::Tool;

/// Largest file `read_file` returns.
pub const READ_FILE_CAP_BYTES: u64 = 256 * 1024;

/// Most entries `list_dir` returns.
pub const LIST_DIR_CAP_ENTRIES: usize = 1000;

/// Every tool, in the order they are offered to the model.
const ALL: [Tool; 4] = [Tool::Exec, Tool::ReadFile, Tool::WriteFile, Tool::ListDir];

/// A tool as described to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the arguments object.
    pub parameters: serde_json::Value,
}

/// A tool call's result as given back to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    pub content: String,
    pub is_error: bool,
}

impl ToolResult {
    fn ok(content: impl Into<String>) -> ToolResult {
        ToolResult {
            content: content.into(),
            is_error: false,
        }
    }

    fn error(content: impl Into<String>) -> ToolResult {
        ToolResult {
            content: content.into(),
            is_error: true,
        }
    }
}

impl From<ToolError> for ToolResult {
    fn from(err: ToolError) -> ToolResult {
        ToolResult::error(err.to_string())
    }
}

/// Why a tool call (or opening a workspace) failed. The `Display` text is what
/// the model reads.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool `{name}`; the available tools are: {available}")]
    UnknownTool { name: String, available: String },

    #[error(
        "the tool `{name}` is not enabled for this agent; the available tools are: {available}"
    )]
    NotEnabled { name: String, available: String },

    #[error("invalid arguments for `{tool}`: {message}. Expected a JSON object like {expected}")]
    BadArguments {
        tool: &'static str,
        message: String,
        expected: &'static str,
    },

    #[error("path `{path}` escapes the workspace `{}`: {reason}", .root.display())]
    OutsideWorkspace {
        path: String,
        root: PathBuf,
        reason: String,
    },

    #[error(
        "`{path}` is {size} bytes, over the read_file limit of {cap} bytes; read it in parts \
         with a shell command (e.g. `head -c`, `sed -n '1,200p'`) if `exec` is available"
    )]
    TooLarge { path: String, size: u64, cap: u64 },

    #[error(
        "`{path}` is not UTF-8 text (invalid byte at offset {offset}); read_file only returns \
         text, inspect binary files with a shell command (e.g. `file`, `xxd | head`) if `exec` \
         is available"
    )]
    NotUtf8 { path: String, offset: usize },

    #[error("`{path}` is a directory; use list_dir to see its entries")]
    IsDirectory { path: String },

    #[error("`{path}` is not a directory")]
    NotDirectory { path: String },

    #[error("`{path}` is not a regular file")]
    NotRegularFile { path: String },

    #[error("{op} `{path}`: {source}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },

    #[error("cannot open the workspace `{}`: {source}", .root.display())]
    Workspace {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The name the model calls `tool` by (its serde name).
pub fn tool_name(tool: Tool) -> &'static str {
    match tool {
        Tool::Exec => "exec",
        Tool::ReadFile => "read_file",
        Tool::WriteFile => "write_file",
        Tool::ListDir => "list_dir",
    }
}

/// The tool called `name`, if any.
pub fn tool_by_name(name: &str) -> Option<Tool> {
    ALL.into_iter().find(|t| tool_name(*t) == name)
}

/// Definitions of the enabled tools, in a fixed order, each once.
pub fn definitions(enabled: &[Tool]) -> Vec<ToolDefinition> {
    ALL.into_iter()
        .filter(|t| enabled.contains(t))
        .map(definition)
        .collect()
}

fn definition(tool: Tool) -> ToolDefinition {
    let name = tool_name(tool);
    match tool {
        Tool::Exec => ToolDefinition {
            name,
            description: "Run a shell command with `sh -c` in the workspace directory and return \
                its exit code, stdout and stderr. Stdin is empty. The command is killed if it \
                runs past the time limit, output past the size limit is cut, and background \
                processes it started are killed when it finishes. Files can be written only \
                inside the workspace and $TMPDIR, unless the operator turned the sandbox off; \
                the environment holds only PATH, HOME (the workspace), TMPDIR, LANG and TERM.",
            parameters: json!({
                "type": "object",
                "properties": {
                    "command": {
                        "type": "string",
                        "description": "The shell command, e.g. `ls -la && cat notes.txt`."
                    }
                },
                "required": ["command"],
                "additionalProperties": false
            }),
        },
        Tool::ReadFile => ToolDefinition {
            name,
            description: "Read a UTF-8 text file in the workspace (up to 256 KiB).",
            parameters: json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Path relative to the workspace directory."
                    }
                },
                "required": ["path"],
                "additionalProperties": false
            }),
        },
        Tool::WriteFile => ToolDefinition {
            name,
            description: "Write a text file in the workspace, replacing it if it exists and \
                creating missing parent directories.",
            parameters: json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Path relative to the workspace directory."
                    },
                    "content": {
                        "type": "string",
                        "description": "The complete new content of the file."
                    }
                },
                "required": ["path", "content"],
                "additionalProperties": false
            }),
        },
        Tool::ListDir => ToolDefinition {
            name,
            description: "List a directory in the workspace, sorted by name; directories end \
                with `/`.",
            parameters: json!({
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Directory relative to the workspace; defaults to `.`, \
                            the workspace itself."
                    }
                },
                "additionalProperties": false
            }),
        },
    }
}

#[derive(Deserialize)]
struct ExecArgs {
    command: String,
}

#[derive(Deserialize)]
struct ReadFileArgs {
    path: String,
}

#[derive(Deserialize)]
struct WriteFileArgs {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct ListDirArgs {
    #[serde(default)]
    path: Option<String>,
}

/// Runs the tool `name` with the model's JSON `arguments`.
pub async fn call(
    ws: &Workspace,
    enabled: &[Tool],
    name: &str,
    arguments: &str,
    limits: &ExecLimits,
) -> ToolResult {
    let available = || {
        let names: Vec<&str> = ALL
            .into_iter()
            .filter(|t| enabled.contains(t))
            .map(tool_name)
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let Some(tool) = tool_by_name(name) else {
        return ToolError::UnknownTool {
            name: name.to_string(),
            available: available(),
        }
        .into();
    };
    if !enabled.contains(&tool) {
        return ToolError::NotEnabled {
            name: name.to_string(),
            available: available(),
        }
        .into();
    }
    let result = match tool {
        Tool::Exec => match parse::<ExecArgs>(tool, arguments, r#"{"command": "ls -la"}"#) {
            Ok(args) => return run_exec(ws, &args.command, limits).await,
            Err(e) => Err(e),
        },
        Tool::ReadFile => {
            match parse::<ReadFileArgs>(tool, arguments, r#"{"path": "notes.txt"}"#) {
                Ok(args) => read_file(ws, &args.path).await,
                Err(e) => Err(e),
            }
        }
        Tool::WriteFile => {
            match parse::<WriteFileArgs>(
                tool,
                arguments,
                r#"{"path": "notes.txt", "content": "text"}"#,
            ) {
                Ok(args) => write_file(ws, &args.path, &args.content).await,
                Err(e) => Err(e),
            }
        }
        Tool::ListDir => match parse::<ListDirArgs>(tool, arguments, r#"{"path": "."}"#) {
            Ok(args) => list_dir(ws, args.path.as_deref().unwrap_or(".")).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(content) => ToolResult::ok(content),
        Err(e) => e.into(),
    }
}

/// Parses the model's arguments; empty text and `null` count as `{}`. Unknown
/// fields are ignored.
fn parse<T: for<'de> Deserialize<'de>>(
    tool: Tool,
    arguments: &str,
    expected: &'static str,
) -> Result<T, ToolError> {
    let text = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    let bad = |message: String| ToolError::BadArguments {
        tool: tool_name(tool),
        message,
        expected,
    };
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    if value.is_null() {
        value = serde_json::Value::Object(Default::default());
    }
    // serde would also accept an array as positional fields; the model is told
    // to send an object.
    if !value.is_object() {
        return Err(bad(format!(
            "the arguments must be a JSON object, not {}",
            match value {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::Object(_) => "an object",
            }
        )));
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

async fn run_exec(ws: &Workspace, command: &str, limits: &ExecLimits) -> ToolResult {
    if command.trim().is_empty() {
        return ToolError::BadArguments {
            tool: "exec",
            message: "`command` is empty".to_string(),
            expected: r#"{"command": "ls -la"}"#,
        }
        .into();
    }
    let outcome = exec(ws, command, limits).await;
    let is_error = outcome.timed_out || (outcome.exit_code.is_none() && outcome.signal.is_none());
    ToolResult {
        content: summarize(&outcome, limits),
        is_error,
    }
}

/// The readable summary of an `exec` the model gets.
pub fn summarize(outcome: &ExecOutcome, limits: &ExecLimits) -> String {
    let mut text = if outcome.timed_out {
        format!(
            "timed out after {}, process group killed",
            human_duration(limits.timeout)
        )
    } else if let Some(code) = outcome.exit_code {
        format!("exit code {code}")
    } else if let Some(signal) = outcome.signal {
        format!("killed by signal {signal}{}", signal_name(signal))
    } else {
        "the command did not run".to_string()
    };
    for (label, output) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
        if output.is_empty() {
            continue;
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("--- ");
        text.push_str(label);
        text.push_str(" ---\n");
        text.push_str(output);
        if !output.ends_with('\n') {
            text.push('\n');
        }
    }
    if outcome.stdout.is_empty() && outcome.stderr.is_empty() {
        text.push_str("\n(no output)");
    }
    if outcome.truncated {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!(
            "[output truncated at {} bytes]",
            limits.output_cap_bytes
        ));
    }
    text.trim_end().to_string()
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGINT => " (SIGINT)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGPIPE => " (SIGPIPE)",
        libc::SIGHUP => " (SIGHUP)",
        _ => "",
    }
}

fn human_duration(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn io_error<'a>(op: &'static str, path: &'a str) -> impl FnOnce(io::Error) -> ToolError + 'a {
    move |source| ToolError::Io {
        op,
        path: path.to_string(),
        source,
    }
}

async fn read_file(ws: &Workspace, path: &str) -> Result<String, ToolError> {
    use tokio::io::AsyncReadExt;

    let resolved = ws.resolve(path)?;
    let meta = tokio::fs::metadata(&resolved)
        .await
        .map_err(io_error("cannot read", path))?;
    if meta.is_dir() {
        return Err(ToolError::IsDirectory {
            path: path.to_string(),
        });
    }
    // A FIFO or device would block or never end.
    if !meta.is_file() {
        return Err(ToolError::NotRegularFile {
            path: path.to_string(),
        });
    }
    let too_large = |size| ToolError::TooLarge {
        path: path.to_string(),
        size,
        cap: READ_FILE_CAP_BYTES,
    };
    if meta.len() > READ_FILE_CAP_BYTES {
        return Err(too_large(meta.len()));
    }
    // The file may grow between the check and the read: read one byte past
    // the cap at most.
    let file = tokio::fs::File::open(&resolved)
        .await
        .map_err(io_error("cannot read", path))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(READ_FILE_CAP_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(io_error("cannot read", path))?;
    if bytes.len() as u64 > READ_FILE_CAP_BYTES {
        let size = tokio::fs::metadata(&resolved)
            .await
            .map(|m| m.len())
            .unwrap_or(bytes.len() as u64);
        return Err(too_large(size));
    }
    String::from_utf8(bytes).map_err(|e| ToolError::NotUtf8 {
        path: path.to_string(),
        offset: e.utf8_error().valid_up_to(),
    })
}

async fn write_file(ws: &Workspace, path: &str, content: &str) -> Result<String, ToolError> {
    let resolved = ws.resolve(path)?;
    if resolved == ws.root() {
        return Err(ToolError::IsDirectory {
            path: path.to_string(),
        });
    }
    if let Some(parent) = resolved.parent() {
        // The missing components of `resolved` are plain names under a
        // canonical directory inside the workspace, so this stays inside.
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io_error("cannot create the parent directory of", path))?;
    }
    if let Ok(meta) = tokio::fs::metadata(&resolved).await {
        if meta.is_dir() {
            return Err(ToolError::IsDirectory {
                path: path.to_string(),
            });
        }
        if !meta.is_file() {
            return Err(ToolError::NotRegularFile {
                path: path.to_string(),
            });
        }
    }
    tokio::fs::write(&resolved, content)
        .await
        .map_err(io_error("cannot write", path))?;
    Ok(format!("wrote {} bytes to `{path}`", content.len()))
}

async fn list_dir(ws: &Workspace, path: &str) -> Result<String, ToolError> {
    let resolved = ws.resolve(path)?;
    let meta = tokio::fs::metadata(&resolved)
        .await
        .map_err(io_error("cannot list", path))?;
    if !meta.is_dir() {
        return Err(ToolError::NotDirectory {
            path: path.to_string(),
        });
    }
    let mut dir = tokio::fs::read_dir(&resolved)
        .await
        .map_err(io_error("cannot list", path))?;
    let mut entries = Vec::new();
    while let Some(entry) = dir
        .next_entry()
        .await
        .map_err(io_error("cannot list", path))?
    {
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if is_dir(&entry.path()).await {
            name.push('/');
        }
        entries.push(name);
    }
    if entries.is_empty() {
        return Ok(format!("`{path}` is empty"));
    }
    entries.sort();
    let total = entries.len();
    let mut text = entries
        .into_iter()
        .take(LIST_DIR_CAP_ENTRIES)
        .collect::<Vec<_>>()
        .join("\n");
    if total > LIST_DIR_CAP_ENTRIES {
        text.push_str(&format!(
            "\n[{} more entries not shown; {total} in all]",
            total - LIST_DIR_CAP_ENTRIES
        ));
    }
    Ok(text)
}

/// Whether `path` is a directory, following a symbolic link.
async fn is_dir(path: &Path) -> bool {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.is_dir())
        .unwrap_or(false)
}

#[cfg(test)]
#[path = "tests_tools.rs"]
mod tests;
