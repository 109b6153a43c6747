//! The process groups this server started and has not killed yet, one empty
//! file each under `<data dir>/process-groups/<boot>.<pid>.<start>/`, named
//! `<pgid>.<start>` (starts are `/proc/<pid>/stat`'s starttime, in clock
//! ticks since boot). A pid alone could name another process by the time it
//! is read; with its start time it cannot.
//!
//! Why: `PR_SET_PDEATHSIG` kills a tied child when the server dies, but not
//! what that child started in its group (a tool's `sleep 1000 &`, the shells
//! Codex runs). After a `kill -9` nothing of the server runs to clean up, so
//! the next start does it: [`reap_orphans`] kills the recorded groups of
//! every process that is gone, then forgets them.
//!
//! A group is killed only when it is still ours: its leader alive with the
//! recorded start time, or, the leader gone (the death signal took it), every
//! process left in the group started after it. Linux keeps a pgid from being
//! reused while any process is in that group, so a leaderless group with that
//! id is ours unless ours emptied and a new one took the number in between.
//!
//! One directory per process: the first [`init`] wins (tests start several
//! servers in one process; their children are still that process's).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static OWN_DIR: OnceLock<PathBuf> = OnceLock::new();

/// A process's line of `/proc/<pid>/stat`, the fields used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: libc::pid_t,
    /// `R`, `S`, `D`, `Z` (zombie: dead, waiting to be reaped), …
    pub state: char,
    pub ppid: libc::pid_t,
    pub pgrp: libc::pid_t,
    /// Clock ticks after boot.
    pub start: u64,
}

impl ProcStat {
    /// Running or sleeping; a zombie has already exited.
    pub fn is_alive(&self) -> bool {
        self.state != 'Z' && self.state != 'X'
    }
}

/// `None` when there is no such process (or /proc is not readable).
pub fn proc_stat(pid: libc::pid_t) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain spaces or
    // parentheses: the fields start after the last `)`.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        // Field 22 of stat(5); the slice starts at field 3.
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Every process this user can see.
pub fn processes() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(proc_stat)
        .collect()
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown-boot".to_owned())
}

/// `<boot>.<pid>.<start>` of this process.
fn own_name() -> Option<String> {
    let pid = libc::pid_t::try_from(std::process::id()).ok()?;
    let start = proc_stat(pid)?.start;
    Some(format!("{}.{pid}.{start}", boot_id()))
}

/// Starts recording this process's groups under `root`. The first call in
/// a process wins.
pub fn init(root: &Path) -> io::Result<()> {
    if OWN_DIR.get().is_some() {
        return Ok(());
    }
    let name = own_name().ok_or_else(|| io::Error::other("cannot read /proc/self/stat"))?;
    let dir = root.join(name);
    fs::create_dir_all(&dir)?;
    let _ = OWN_DIR.set(dir);
    Ok(())
}

/// A recorded group; dropping it removes the record.
pub(crate) struct Record {
    path: PathBuf,
}

impl Drop for Record {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Records the group led by `pgid`, if [`init`] was called and the leader
/// is still there to be recorded (one that already exited started nothing
/// that needs reaping later: the guard kills its group now).
pub(crate) fn record(pgid: libc::pid_t) -> Option<Record> {
    let dir = OWN_DIR.get()?;
    let start = proc_stat(pgid)?.start;
    let path = dir.join(format!("{pgid}.{start}"));
    match fs::File::create(&path) {
        Ok(_) => Some(Record { path }),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not record a process group; a kill -9 of the server could leave it running");
            None
        }
    }
}

/// A group a gone server left and [`reap_orphans`] killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaped {
    pub pgid: libc::pid_t,
    /// Processes that were in it.
    pub processes: usize,
    /// `<boot>.<pid>.<start>` of the server that started it.
    pub owner: String,
}

/// Kills the groups recorded under `root` by servers that are gone (a
/// server on the same data dir that is still running keeps its own) and
/// removes their records. Call at start-up, before anything is spawned.
pub fn reap_orphans(root: &Path) -> io::Result<Vec<Reaped>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let boot = boot_id();
    let own = own_name();
    let mut reaped = Vec::new();
    let mut table: Option<Vec<ProcStat>> = None;
    for entry in entries {
        let entry = entry?;
        let Some(owner) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if Some(&owner) == own.as_ref() {
            continue;
        }
        let Some((owner_boot, pid, start)) = parse_owner(&owner) else {
            continue;
        };
        let this_boot = owner_boot == boot;
        if this_boot && proc_stat(pid).is_some_and(|p| p.start == start && p.is_alive()) {
            continue;
        }
        // From an earlier boot nothing can be left running.
        if this_boot {
            let table = table.get_or_insert_with(processes);
            for group in fs::read_dir(entry.path())? {
                let group = group?;
                let Some((pgid, start)) = group
                    .file_name()
                    .to_str()
                    .and_then(|n| n.split_once('.'))
                    .and_then(|(g, s)| Some((g.parse().ok()?, s.parse().ok()?)))
                else {
                    continue;
                };
                if let Some(processes) = kill_if_ours(table, pgid, start) {
                    reaped.push(Reaped {
                        pgid,
                        processes,
                        owner: owner.clone(),
                    });
                }
            }
        }
        fs::remove_dir_all(entry.path())?;
    }
    Ok(reaped)
}

fn parse_owner(name: &str) -> Option<(&str, libc::pid_t, u64)> {
    let (rest, start) = name.rsplit_once('.')?;
    let (boot, pid) = rest.rsplit_once('.')?;
    Some((boot, pid.parse().ok()?, start.parse().ok()?))
}

/// SIGKILLs group `pgid` if it is still the one recorded with leader start
/// `start` (see the module's notes); the number of its live processes.
fn kill_if_ours(table: &[ProcStat], pgid: libc::pid_t, start: u64) -> Option<usize> {
    if pgid <= 1 {
        return None;
    }
    let members: Vec<&ProcStat> = table
        .iter()
        .filter(|p| p.pgrp == pgid && p.is_alive())
        .collect();
    let ours = match members.iter().find(|p| p.pid == pgid) {
        Some(leader) => leader.start == start,
        None => members.iter().all(|p| p.start >= start),
    };
    if members.is_empty() || !ours {
        return None;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; `pgid` > 1.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    Some(members.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_stat_and_owner_names_round_trip() {
        let me = libc::pid_t::try_from(std::process::id()).unwrap();
        let stat = proc_stat(me).unwrap();
        assert!(stat.is_alive());
        assert!(stat.start > 0);
        let name = own_name().unwrap();
        let (boot, pid, start) = parse_owner(&name).unwrap();
        assert_eq!((boot, pid, start), (boot_id().as_str(), me, stat.start));
    }

    /// A group whose leader is alive but started at another time is
    /// someone else's (the pid was reused): left alone.
    #[test]
    fn a_reused_leader_pid_is_not_killed() {
        let table = [ProcStat {
            pid: 4242,
            state: 'S',
            ppid: 1,
            pgrp: 4242,
            start: 900,
        }];
        assert_eq!(kill_if_ours(&table, 4242, 100), None);
        // Leaderless: members older than the recorded leader are not ours.
        let table = [ProcStat {
            pid: 4243,
            state: 'S',
            ppid: 1,
            pgrp: 4242,
            start: 50,
        }];
        assert_eq!(kill_if_ours(&table, 4242, 100), None);
        assert_eq!(kill_if_ours(&[], 4242, 100), None);
    }
}
