//! Child processes that live in their own process group: the `exec` tool's
//! shells and the Codex app-server. Killing the group, not just the child,
//! is what keeps grandchildren (a tool's `sleep 100 &`, Codex's own shells)
//! from outliving a cancelled or timed-out run.

/// Kills a process group with SIGKILL when dropped, unless disarmed.
pub(crate) struct GroupGuard {
    pgid: Option<libc::pid_t>,
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
        GroupGuard { pgid }
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

    pub(crate) fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
