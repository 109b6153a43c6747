//! The `exec` tool's process handling (DESIGN §4): `sh -c <command>` in the
//! workspace, in its own process group, with a timeout and an output cap, a
//! minimal environment and, unless the agent's `sandbox` is `none`, confined
//! by Landlock to writing inside the workspace and its temp dir ([`sandbox`]).
//!
//! The whole process group is SIGKILLed when the command times out, when the
//! shell exits (so background jobs such as `sleep 100 &` never outlive the call
//! and never hold the output pipes open), and when the [`exec`] future is dropped
//! before it finished (the run was cancelled).

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::sandbox;
use super::workspace::Workspace;
use crate::config::Sandbox;
use crate::process::{spawn_tied, GroupGuard};

/// After the deadline has passed and the group was killed, how long to keep
/// reading output still in the pipes. Only matters when a process outside the
/// group (one that called `setsid`) still holds a pipe open; the group's own
/// processes are dead and their pipe ends closed.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Limits and confinement of one `exec` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecLimits {
    /// Wall time after which the process group is killed.
    pub timeout: Duration,
    /// Bytes kept of stdout and, separately, of stderr; the rest is read and
    /// discarded.
    pub output_cap_bytes: usize,
    /// The agent's `sandbox`.
    pub sandbox: Sandbox,
    /// The command's `TMPDIR`, writable in the sandbox: the run's, so files
    /// survive from one call to the next. `None`: a fresh one for the call.
    pub tmp_dir: Option<PathBuf>,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            timeout: Duration::from_secs(30),
            output_cap_bytes: 64 * 1024,
            sandbox: Sandbox::BUILTIN,
            tmp_dir: None,
        }
    }
}

/// What an `exec` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// The shell's exit code; `None` when it was killed by a signal or could
    /// not be started.
    pub exit_code: Option<i32>,
    /// The signal that killed the shell, if any.
    pub signal: Option<i32>,
    /// Captured stdout, lossy UTF-8, at most `output_cap_bytes` bytes.
    pub stdout: String,
    /// Captured stderr, lossy UTF-8, at most `output_cap_bytes` bytes. Also
    /// carries the reason when the shell could not be started.
    pub stderr: String,
    /// Whether stdout or stderr exceeded the cap.
    pub truncated: bool,
    /// Whether the timeout expired and the group was killed.
    pub timed_out: bool,
    pub duration: Duration,
}

/// Collects up to `cap` bytes and counts whether more arrived.
struct Capture {
    buf: Vec<u8>,
    cap: usize,
    truncated: bool,
}

impl Capture {
    fn new(cap: usize) -> Capture {
        Capture {
            buf: Vec::new(),
            cap,
            truncated: false,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.buf.len());
        if data.len() > room {
            self.truncated = true;
        }
        self.buf.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn into_string(mut self) -> String {
        if self.truncated {
            // Don't end in a replacement character because the cap split a
            // multi-byte character.
            if let Err(e) = std::str::from_utf8(&self.buf) {
                if e.error_len().is_none() {
                    self.buf.truncate(e.valid_up_to());
                }
            }
        }
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

/// Reads into `buf`; `None` at end of stream or on a read error.
async fn read_some<R: AsyncRead + Unpin>(reader: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    let r = reader.as_mut()?;
    loop {
        match r.read(buf).await {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// Runs `sh -c <command>` in the workspace root (stdin null, own process group,
/// minimal environment, confined per `limits.sandbox`) and returns what it
/// did. Never fails: a shell that cannot be started, or cannot be confined, is
/// reported in [`ExecOutcome::stderr`] with no exit code.
pub async fn exec(ws: &Workspace, command: &str, limits: &ExecLimits) -> ExecOutcome {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let not_started = |stderr: String| ExecOutcome {
        exit_code: None,
        signal: None,
        stdout: String::new(),
        stderr,
        truncated: false,
        timed_out: false,
        duration: started.elapsed(),
    };

    // Removed when the call ends; a run's own temp dir outlives it.
    let call_tmp;
    let tmp = match &limits.tmp_dir {
        Some(dir) => dir.clone(),
        None => match tempfile::Builder::new()
            .prefix("switchyard-exec-")
            .tempdir()
        {
            Ok(dir) => {
                call_tmp = dir;
                call_tmp.path().to_path_buf()
            }
            Err(e) => return not_started(format!("could not create the command's TMPDIR: {e}")),
        },
    };
    let confinement = match sandbox::prepare(limits.sandbox, ws.root(), &tmp) {
        Ok(confinement) => confinement,
        Err(refused) => return not_started(refused.to_string()),
    };
    let confined = confinement.is_some();

    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(ws.root())
        .env_clear()
        .envs(sandbox::env(ws.root(), &tmp))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(mut confinement) = confinement {
        // SAFETY: `enter` only makes two syscalls and touches no lock or
        // allocator, so it is sound in the forked child of a threaded process.
        unsafe {
            cmd.pre_exec(move || confinement.enter());
        }
    }
    // Tied to the server's life (a kill -9 of the server kills the shell;
    // what it left in its group is reaped at the next start).
    let mut child = match spawn_tied(cmd) {
        Ok(child) => child,
        Err(e) if confined => {
            return not_started(format!(
                "could not start `sh` confined by Landlock (sandbox: \"landlock\"): {e}"
            ))
        }
        Err(e) => return not_started(format!("could not start `sh`: {e}")),
    };
    // The Landlock ruleset and its descriptor went with `cmd`, dropped
    // once spawned.
    // Declared after `child`, so on drop (cancellation) the group is killed
    // before the child handle goes and while the leader is not yet reaped, i.e.
    // while its pid still names this group.
    let mut guard = GroupGuard::new(child.id());

    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut out = Capture::new(limits.output_cap_bytes);
    let mut err = Capture::new(limits.output_cap_bytes);
    let mut out_buf = vec![0u8; 16 * 1024];
    let mut err_buf = vec![0u8; 16 * 1024];

    let mut status = None;
    let mut timed_out = false;
    let timeout = tokio::time::sleep_until(deadline);
    tokio::pin!(timeout);
    let mut deadline_passed = false;
    // Armed once the deadline passed.
    let drain = tokio::time::sleep_until(deadline);
    tokio::pin!(drain);

    loop {
        if status.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        tokio::select! {
            n = read_some(&mut stdout, &mut out_buf), if stdout.is_some() => match n {
                Some(n) => out.push(&out_buf[..n]),
                None => stdout = None,
            },
            n = read_some(&mut stderr, &mut err_buf), if stderr.is_some() => match n {
                Some(n) => err.push(&err_buf[..n]),
                None => stderr = None,
            },
            s = child.wait(), if status.is_none() => {
                // The shell is done. Whatever it left running in its group
                // (background jobs) goes too. The leader is reaped already, but
                // a group with live members keeps its id, and an empty one
                // makes this a no-op (barring pid reuse within microseconds).
                guard.kill();
                status = Some(s);
            },
            () = &mut timeout, if !deadline_passed => {
                deadline_passed = true;
                if status.is_none() {
                    timed_out = true;
                }
                guard.kill();
                drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_GRACE);
            },
            () = &mut drain, if deadline_passed => break,
        }
    }
    guard.disarm();

    let status = match status {
        Some(status) => status.ok(),
        // Killed but not reaped within the grace period (unkillable, e.g. in
        // uninterruptible sleep): `kill_on_drop` leaves it to tokio's reaper.
        None => child.try_wait().ok().flatten(),
    };
    let truncated = out.truncated || err.truncated;
    ExecOutcome {
        exit_code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        stdout: out.into_string(),
        stderr: err.into_string(),
        truncated,
        timed_out,
        duration: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::Capture;

    #[test]
    fn capture_keeps_the_cap_and_whole_characters() {
        let mut c = Capture::new(3);
        c.push("aé".as_bytes());
        assert!(!c.truncated);
        c.push(b"");
        assert!(!c.truncated);
        c.push("é".as_bytes());
        assert!(c.truncated);
        assert_eq!(c.into_string(), "aé");

        let mut c = Capture::new(2);
        c.push("aé".as_bytes()); // the cap splits `é`
        assert!(c.truncated);
        assert_eq!(c.into_string(), "a");

        let mut c = Capture::new(8);
        c.push(&[b'o', b'k', 0xff]); // invalid, not truncated: lossy
        assert_eq!(c.into_string(), "ok\u{fffd}");
    }
}
