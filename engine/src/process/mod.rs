//! Child processes that live in their own process group: the `exec` tool's
//! shells and the Codex app-server. Killing the group, not just the child,
//! is what keeps grandchildren (a tool's `sleep 100 &`, Codex's own shells)
//! from outliving a cancelled or timed-out run.
//!
//! They must not outlive the server either, even when it is SIGKILLed and
//! drops nothing. Two layers, because neither is enough alone:
//! - [`spawn_tied`]: the child asks the kernel for SIGKILL when its parent
//!   dies (`PR_SET_PDEATHSIG`). That reaches the direct child only (the
//!   setting is cleared across `fork`), so a grandchild in its group lives on.
//! - [`registry`]: each group is recorded under the data dir while it lives;
//!   the next server start kills the groups a dead process left
//!   ([`registry::reap_orphans`]).

pub mod registry;

use std::io;
use std::sync::mpsc;
use std::sync::OnceLock;

/// Kills a process group with SIGKILL when dropped, unless disarmed. While
/// armed, the group is recorded in the [`registry`] (when one is set up).
pub(crate) struct GroupGuard {
    pgid: Option<libc::pid_t>,
    record: Option<registry::Record>,
}

impl GroupGuard {
    /// Arms the guard for the group led by `pid` (a child spawned with
    /// `process_group(0)`).
    pub(crate) fn new(pid: Option<u32>) -> GroupGuard {
        // A pgid of 0 or 1 would make kill(-pgid) hit our own group or every
        // process we may signal; never arm with those.
        let pgid = pid
            .and_then(|p| libc::pid_t::try_from(p).ok())
            .filter(|p| *p > 1);
        GroupGuard {
            pgid,
            record: pgid.and_then(registry::record),
        }
    }

    pub(crate) fn kill(&self) {
        if let Some(pgid) = self.pgid {
            // SAFETY: kill(2) has no memory-safety preconditions; `pgid` > 1.
            // ESRCH (group already gone) is fine.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }

    /// Called once the group was killed (or is known to be gone): nothing
    /// left to kill on drop, nothing for the next start to reap.
    pub(crate) fn disarm(&mut self) {
        self.pgid = None;
        self.record = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
        // `record` is dropped after this, removing the file once the group
        // was killed.
    }
}

/// Spawns `cmd` so that its process is SIGKILLed by the kernel when the
/// server dies, however it dies.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits,
/// not the process: spawned from a tokio worker or blocking thread (blocking
/// threads exit after 10 s idle), a healthy Codex app-server would be killed
/// mid-turn whenever that thread went away. So every tied child is forked by
/// one dedicated thread that lives as long as the process. The caller waits
/// for the fork and exec, as it did when it spawned the child itself; spawns
/// are serialised on that thread (each takes about a millisecond).
pub(crate) fn spawn_tied(mut cmd: tokio::process::Command) -> io::Result<tokio::process::Child> {
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: `die_with_parent` makes two syscalls (prctl, getppid) and
    // builds an `io::Error` from an errno, which does not allocate; it is
    // async-signal-safe, as code between fork and exec must be.
    unsafe {
        cmd.pre_exec(move || die_with_parent(parent));
    }
    // The child's pipes and its reaping belong to the caller's runtime.
    let handle = tokio::runtime::Handle::current();
    on_spawner_thread(move || {
        let _runtime = handle.enter();
        cmd.spawn()
    })?
}

/// In the forked child, before exec.
fn die_with_parent(parent: libc::pid_t) -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid have no memory-safety
    // preconditions.
    unsafe {
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        // The server may have died between fork and prctl: then no signal
        // will ever come, and the child has been reparented already.
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `f` on the long-lived spawner thread and returns its result.
fn on_spawner_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    let gone = || io::Error::other("the process spawner thread is not running");
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("switchyard-spawner".to_owned())
            // Never exits: `tx` lives in the static, so `recv` never fails.
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    // A panicking job must not take the thread (and every
                    // later spawn) with it; its caller sees the reply dropped.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .ok()
            .map(|_| tx)
    });
    let spawner = spawner.as_ref().ok_or_else(gone)?;
    let (reply, answer) = mpsc::sync_channel(1);
    spawner
        .send(Box::new(move || {
            let _ = reply.send(f());
        }))
        .map_err(|_| gone())?;
    answer.recv().map_err(|_| gone())
}
