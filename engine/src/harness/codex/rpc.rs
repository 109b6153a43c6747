//! The Codex app-server's wire: JSON-RPC 2.0 messages, one per line on
//! stdio, without the `"jsonrpc"` field. One reader task turns stdout into
//! [`Incoming`] messages; the session consumes them in order, so a reply and
//! the notifications around it are never reordered.

use serde_json::{json, Value};
use std::collections::VecDeque;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::process::{spawn_tied, GroupGuard};

/// Bytes of stderr kept for the error detail.
const STDERR_TAIL: usize = 2048;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    Reply {
        id: u64,
        result: Result<Value, RpcError>,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// A request from the server (approvals and the like).
    Request {
        id: Value,
        method: String,
    },
    /// A line that is not a JSON-RPC message.
    Malformed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub code: i64,
    pub message: String,
}

/// How the process ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "code={code}"),
            (None, Some(signal)) => write!(f, "signal={signal}"),
            (None, None) => f.write_str("still running"),
        }
    }
}

/// Why waiting for a message ended without one.
#[derive(Debug)]
pub(crate) enum Gone {
    /// stdout closed: the process exited (or closed it, which is as bad).
    Closed,
    TimedOut,
}

pub(crate) struct Peer {
    // Field order matters: the guard kills the group before the child
    // handle is dropped, while the leader's pid still names the group.
    group: GroupGuard,
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    /// Notifications that arrived while waiting for a reply.
    queued: VecDeque<Incoming>,
    stderr: Arc<Mutex<Vec<u8>>>,
    next_id: u64,
}

impl Peer {
    /// Starts `command` in its own process group with `CODEX_HOME` set and,
    /// of the server's environment, only `PATH`, `HOME` and `key_env` (the
    /// provider's key variable): Codex runs the model's shell commands with
    /// the environment it was given, and the server's holds every provider's
    /// key.
    pub(crate) fn spawn(
        command: &[String],
        codex_home: &Path,
        cwd: &Path,
        key_env: Option<&str>,
    ) -> std::io::Result<Peer> {
        let (program, args) = command.split_first().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the command is empty")
        })?;
        let passed = ["PATH", "HOME"]
            .into_iter()
            .chain(key_env)
            .filter_map(|name| std::env::var_os(name).map(|value| (name, value)));
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(passed)
            .env("CODEX_HOME", codex_home)
            // Plain stderr for the error detail, no backtraces in it, and the
            // one log line that carries a Retry-After delay ("(1/1 in 3599.99s)").
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "0")
            .env("RUST_LOG", "error,codex_core::responses_retry=warn")
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        // Tied to the server's life: a kill -9 of the server must not leave
        // an app-server running (it does not stop at stdin EOF mid-turn).
        let mut child = spawn_tied(cmd)?;
        let group = GroupGuard::new(child.id());
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                if tx.send(parse(&line)).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = stderr.clone();
        tokio::spawn(async move {
            let mut pipe = stderr_pipe;
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut tail = tail.lock().expect("stderr tail");
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    let cut = tail.len() - STDERR_TAIL;
                    tail.drain(..cut);
                }
            }
        });
        Ok(Peer {
            group,
            stdin: child.stdin.take(),
            child,
            incoming,
            queued: VecDeque::new(),
            stderr,
            next_id: 0,
        })
    }

    /// The last lines the process wrote to stderr, trimmed.
    pub(crate) fn stderr_tail(&self) -> String {
        let tail = self.stderr.lock().expect("stderr tail");
        let start = tail.len().saturating_sub(STDERR_TAIL);
        let text = String::from_utf8_lossy(&tail[start..]);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    async fn write(&mut self, message: Value) -> Result<(), Gone> {
        let stdin = self.stdin.as_mut().ok_or(Gone::Closed)?;
        let mut line = message.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|_| Gone::Closed)?;
        stdin.flush().await.map_err(|_| Gone::Closed)
    }

    pub(crate) async fn notify(&mut self, method: &str, params: Value) -> Result<(), Gone> {
        self.write(json!({"method": method, "params": params}))
            .await
    }

    /// Sends a request without waiting for its reply (which [`Peer::next`]
    /// will return like any other message).
    pub(crate) async fn send_request(&mut self, method: &str, params: Value) -> Result<u64, Gone> {
        self.next_id += 1;
        let id = self.next_id;
        self.write(json!({"method": method, "id": id, "params": params}))
            .await?;
        Ok(id)
    }

    /// Sends a request and waits up to `timeout` for its reply; anything else
    /// that arrives meanwhile is kept for [`Peer::next`].
    pub(crate) async fn request(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Result<Value, RpcError>, Gone> {
        self.next_id += 1;
        let id = self.next_id;
        self.write(json!({"method": method, "id": id, "params": params}))
            .await?;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
                Err(_) => return Err(Gone::TimedOut),
                Ok(None) => return Err(Gone::Closed),
                Ok(Some(Incoming::Reply { id: got, result })) if got == id => return Ok(result),
                Ok(Some(other)) => self.queued.push_back(other),
            }
        }
    }

    /// The next message, waiting at most `timeout`.
    pub(crate) async fn next(&mut self, timeout: Duration) -> Result<Incoming, Gone> {
        if let Some(queued) = self.queued.pop_front() {
            return Ok(queued);
        }
        match tokio::time::timeout(timeout, self.incoming.recv()).await {
            Err(_) => Err(Gone::TimedOut),
            Ok(None) => Err(Gone::Closed),
            Ok(Some(message)) => Ok(message),
        }
    }

    /// Answers a server request we do not support, so it does not wait.
    pub(crate) async fn decline(&mut self, id: Value, method: &str) -> Result<(), Gone> {
        self.write(json!({"id": id, "error": {"code": -32601, "message": format!("switchyard does not handle `{method}`")}}))
            .await
    }

    /// How the process ended, waiting up to `grace` for it.
    pub(crate) async fn exit(&mut self, grace: Duration) -> Exit {
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => Exit {
                code: status.code(),
                signal: status.signal(),
            },
            _ => Exit {
                code: None,
                signal: None,
            },
        }
    }

    /// Closes stdin (which ends a healthy app-server), gives it `grace` to
    /// exit, then kills the whole group either way.
    pub(crate) async fn shutdown(mut self, grace: Duration) {
        self.stdin = None;
        let _ = tokio::time::timeout(grace, self.child.wait()).await;
        self.group.kill();
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

fn parse(line: &str) -> Incoming {
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        return Incoming::Malformed(line.chars().take(200).collect());
    };
    let method = value
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let id = value.get("id").cloned();
    match (method, id) {
        (Some(method), Some(id)) => Incoming::Request { id, method },
        (Some(method), None) => Incoming::Notification {
            method,
            params: value.get("params").cloned().unwrap_or(Value::Null),
        },
        (None, Some(id)) => {
            let Some(id) = id.as_u64() else {
                return Incoming::Malformed(line.chars().take(200).collect());
            };
            let result = match value.get("error") {
                Some(error) => Err(RpcError {
                    code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: error
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("(no message)")
                        .to_owned(),
                }),
                None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
            };
            Incoming::Reply { id, result }
        }
        (None, None) => Incoming::Malformed(line.chars().take(200).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_messages() {
        assert_eq!(
            parse(r#"{"id":1,"result":{"userAgent":"x"}}"#),
            Incoming::Reply {
                id: 1,
                result: Ok(json!({"userAgent": "x"}))
            }
        );
        assert_eq!(
            parse(r#"{"id":2,"error":{"code":-32600,"message":"nope"}}"#),
            Incoming::Reply {
                id: 2,
                result: Err(RpcError {
                    code: -32600,
                    message: "nope".into()
                })
            }
        );
        assert!(matches!(
            parse(r#"{"method":"turn/started","params":{}}"#),
            Incoming::Notification { .. }
        ));
        assert!(matches!(
            parse(r#"{"method":"execCommandApproval","id":"a","params":{}}"#),
            Incoming::Request { .. }
        ));
        assert!(matches!(parse("panic: oh no"), Incoming::Malformed(_)));
    }
}
