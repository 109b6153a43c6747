//! Confinement of the `exec` tool's commands (`docs/SECURITY.md`, "exec
//! sandbox"): a minimal environment always, and with `sandbox: landlock` (the
//! default) a Landlock domain that lets the command write only inside the
//! workspace and the run's temp dir.
//!
//! The ruleset is built in the server (opening the allowed directories
//! allocates and may fail with a readable error); the forked child only calls
//! `restrict_self` on it between `fork` and `exec`, which is two syscalls
//! (`prctl(PR_SET_NO_NEW_PRIVS)`, `landlock_restrict_self`) and no allocation.
//!
//! Reads stay broad: a shell needs `/usr`, `/lib`, `/etc` and whatever tools
//! the agent calls. Network stays open: agents fetch dependencies and call
//! APIs. Signals to processes outside the command's own domain (the server,
//! other runs) and connections to abstract UNIX sockets are refused where the
//! kernel supports it (Landlock ABI 6).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{
    make_bitflags, Access, AccessFs, BitFlags, CompatLevel, Compatible, LandlockStatus,
    PathBeneath, PathFd, PathFdError, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr,
    RulesetError, RulesetStatus, Scope, ABI,
};

use crate::config::Sandbox;

/// The `PATH` every command gets: the system's directories, never the
/// server's own `PATH` (which may point into an operator's home).
pub const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The first ABI that handles every way of changing a file: writing and
/// creating (1), linking and renaming across directories (2), truncating (3).
/// Below it, a confined command could still truncate any file; exec refuses.
const REQUIRED: ABI = ABI::V3;

/// The newest filesystem rights this policy grants and denies: ioctl on
/// device files (ABI 5). Handled when the kernel has them.
const KNOWN: ABI = ABI::V5;

/// Device files a command may write besides its two directories: shells
/// redirect to `/dev/null` all the time. `/dev/tty` is left out: it may be
/// the operator's terminal.
const WRITABLE_DEVICES: [&str; 5] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

/// The whole environment of a command: nothing of the server's (provider
/// keys, database URLs) reaches it or, through its output, a transcript.
pub fn env(home: &Path, tmp: &Path) -> [(&'static str, OsString); 5] {
    [
        ("PATH", SAFE_PATH.into()),
        ("HOME", home.into()),
        ("TMPDIR", tmp.into()),
        ("LANG", "C.UTF-8".into()),
        ("TERM", "dumb".into()),
    ]
}

/// Whether this kernel can enforce `sandbox: landlock`; probed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Landlock enforces the policy; `abi` is the kernel's Landlock ABI.
    Enforced { abi: String },
    /// It cannot; `reason` says why in an operator's words.
    Unavailable { reason: String },
}

/// What `sandbox` means for an agent on this host, for the agent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// `exec` runs (confined or, by choice, not).
    pub runs: bool,
    pub text: String,
}

/// The probe's result, cached: a kernel does not gain or lose Landlock while
/// the server runs.
pub fn support() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(probe)
}

/// One line for the agent page.
pub fn describe(mode: Sandbox) -> Effective {
    describe_on(support(), mode)
}

fn describe_on(support: &Support, mode: Sandbox) -> Effective {
    match (mode, support) {
        (Sandbox::None, _) => Effective {
            runs: true,
            text: "none: exec runs unconfined (sandbox: \"none\"); commands can write anywhere \
                   the server can"
                .into(),
        },
        (Sandbox::Landlock, Support::Enforced { abi }) => Effective {
            runs: true,
            text: format!("landlock (ABI {abi}): writes limited to workspace + tmp"),
        },
        (Sandbox::Landlock, Support::Unavailable { reason }) => Effective {
            runs: false,
            text: format!(
                "landlock cannot be enforced: {reason}; exec refuses to run (set sandbox: \
                 \"none\" to run it unconfined)"
            ),
        },
    }
}

/// Why a command was not started.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The kernel cannot enforce the policy. The text names the setting.
    #[error(
        "exec refused: the agent's sandbox is `landlock`, but {reason}. Nothing ran. To run exec \
         unconfined on this host, set `sandbox: \"none\"` on the agent \
         (`agents.entries.<id>.sandbox`) or in `agents.defaults.sandbox`"
    )]
    Kernel { reason: String },
    #[error(
        "exec refused: the workspace is `/`, so limiting writes to it would limit nothing; give \
         the agent its own workspace directory. Nothing ran"
    )]
    WorkspaceIsRoot,
    /// A directory of the policy cannot be opened.
    #[error("could not start `sh` confined by Landlock: {0}")]
    Setup(String),
}

/// The Landlock domain a command enters, ready to apply in the child.
pub struct Confinement {
    ruleset: Option<RulesetCreated>,
}

/// Builds the confinement for a command working in `workspace` with the
/// temp dir `tmp`; `None` for `sandbox: none`.
pub fn prepare(
    mode: Sandbox,
    workspace: &Path,
    tmp: &Path,
) -> Result<Option<Confinement>, Refused> {
    prepare_on(support(), mode, workspace, tmp)
}

/// [`prepare`] on a kernel with `support`.
fn prepare_on(
    support: &Support,
    mode: Sandbox,
    workspace: &Path,
    tmp: &Path,
) -> Result<Option<Confinement>, Refused> {
    if mode == Sandbox::None {
        return Ok(None);
    }
    if workspace == Path::new("/") {
        return Err(Refused::WorkspaceIsRoot);
    }
    if let Support::Unavailable { reason } = support {
        return Err(Refused::Kernel {
            reason: reason.clone(),
        });
    }
    protect_server();
    let ruleset = ruleset(workspace, tmp).map_err(|e| match e {
        BuildError::Landlock(e) => Refused::Kernel {
            reason: format!("the Landlock ruleset could not be enforced: {e}"),
        },
        BuildError::Path { .. } => Refused::Setup(e.to_string()),
    })?;
    Ok(Some(Confinement {
        ruleset: Some(ruleset),
    }))
}

impl Confinement {
    /// Enters the domain and gives up every capability. Runs in the forked
    /// child before `exec`: syscalls only, no allocation; only the errno
    /// crosses back to the parent.
    pub fn enter(&mut self) -> io::Result<()> {
        let Some(ruleset) = self.ruleset.take() else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        match ruleset.restrict_self() {
            Ok(status) if status.ruleset != RulesetStatus::NotEnforced && status.no_new_privs => {}
            Ok(_) => return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP)),
            Err(e) => return Err(io::Error::from_raw_os_error(errno(&e))),
        }
        drop_capabilities()
    }
}

/// Empties the bounding, ambient, inheritable, permitted and effective
/// capability sets, so a command of a server running as root is root without
/// root's powers: Landlock confines the filesystem, not `reboot`, module
/// loading, firewall changes, raw sockets or reading other users' files.
/// Without the bounding set `exec` cannot give them back.
fn drop_capabilities() -> io::Result<()> {
    // Beyond the kernel's last capability the call fails with EINVAL; without
    // CAP_SETPCAP (a server not running as root) with EPERM, and then there
    // is nothing to drop that `no_new_privs` does not already neutralize.
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
    }
    // SAFETY: as above.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let none = [
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
        Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        },
    ];
    // SAFETY: the kernel reads one header and two data structs (version 3).
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, none.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes the server non-dumpable, once. A process's initial environment
/// (provider keys exported before it started) stays readable in
/// `/proc/<pid>/environ` to same-user processes, and Landlock does not stop a
/// confined command from reading it; a non-dumpable process's `/proc` files
/// need CAP_SYS_PTRACE, which confined commands no longer have. It also keeps
/// keys out of core dumps.
fn protect_server() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            tracing::warn!(error = %io::Error::last_os_error(), "could not make the server non-dumpable");
        }
    });
}

/// The OS error inside `e`, without allocating.
fn errno(e: &RulesetError) -> i32 {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(code) = err
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return code;
        }
        source = err.source();
    }
    libc::EPERM
}

/// Why the ruleset could not be built.
#[derive(Debug, thiserror::Error)]
enum BuildError {
    #[error(transparent)]
    Landlock(#[from] RulesetError),
    #[error("cannot open `{}`: {source}", .path.display())]
    Path {
        path: PathBuf,
        #[source]
        source: PathFdError,
    },
}

fn path_fd(path: &Path) -> Result<PathFd, BuildError> {
    PathFd::new(path).map_err(|source| BuildError::Path {
        path: path.to_path_buf(),
        source,
    })
}

/// Read and execute everywhere; everything inside the workspace and the temp
/// dir except creating device nodes (which, as root, would open a way to the
/// raw disks); read and write the harmless device files.
fn ruleset(workspace: &Path, tmp: &Path) -> Result<RulesetCreated, BuildError> {
    let inside: BitFlags<AccessFs> =
        AccessFs::from_all(KNOWN) & !make_bitflags!(AccessFs::{MakeChar | MakeBlock});
    let mut ruleset = Ruleset::default()
        // A kernel that cannot handle every write right fails here.
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(REQUIRED))?
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(KNOWN))?
        .scope(Scope::from_all(ABI::V6))?
        .create()?
        .add_rule(PathBeneath::new(
            path_fd(Path::new("/"))?,
            AccessFs::from_read(KNOWN),
        ))?
        .add_rule(PathBeneath::new(path_fd(workspace)?, inside))?
        .add_rule(PathBeneath::new(path_fd(tmp)?, inside))?;
    for device in WRITABLE_DEVICES {
        // A missing device (a minimal container) is simply not writable.
        if let Ok(fd) = PathFd::new(device) {
            ruleset = ruleset.add_rule(PathBeneath::new(
                fd,
                AccessFs::from_file(KNOWN) & !AccessFs::Execute,
            ))?;
        }
    }
    Ok(ruleset)
}

/// Enforces the real policy on a throwaway thread (Landlock confines the
/// calling thread only) and reports what the kernel did.
fn probe() -> Support {
    let dir = std::env::temp_dir();
    std::thread::Builder::new()
        .name("landlock-probe".into())
        .spawn(move || {
            let enforced =
                ruleset(&dir, &dir).and_then(|r| r.restrict_self().map_err(BuildError::from));
            match enforced {
                Ok(status) if status.ruleset != RulesetStatus::NotEnforced => Support::Enforced {
                    abi: abi_of(status.landlock).unwrap_or_else(|| "?".into()),
                },
                Ok(status) => Support::Unavailable {
                    reason: reason_of(status.landlock),
                },
                // Learn what the kernel has from a ruleset any ABI takes.
                Err(e) => match Ruleset::default()
                    .handle_access(AccessFs::from_all(ABI::V1))
                    .and_then(Ruleset::create)
                    .and_then(RulesetCreated::restrict_self)
                {
                    Ok(status) => match status.landlock {
                        LandlockStatus::Available { effective_abi, .. }
                            if effective_abi >= REQUIRED =>
                        {
                            Support::Unavailable {
                                reason: format!("Landlock failed: {e}"),
                            }
                        }
                        other => Support::Unavailable {
                            reason: reason_of(other),
                        },
                    },
                    Err(_) => Support::Unavailable {
                        reason: format!("Landlock failed: {e}"),
                    },
                },
            }
        })
        .and_then(|t| {
            t.join()
                .map_err(|_| io::Error::other("the Landlock probe panicked"))
        })
        .unwrap_or_else(|e| Support::Unavailable {
            reason: format!("the Landlock probe could not run: {e}"),
        })
}

fn abi_of(status: LandlockStatus) -> Option<String> {
    match status {
        LandlockStatus::Available {
            kernel_abi: Some(abi),
            ..
        } => Some(abi.to_string()),
        LandlockStatus::Available { effective_abi, .. } => Some(effective_abi.to_string()),
        _ => None,
    }
}

fn reason_of(status: LandlockStatus) -> String {
    match status {
        LandlockStatus::NotEnabled => "this kernel has Landlock but it is not enabled (add \
                                       `landlock` to the `lsm=` boot parameter)"
            .into(),
        LandlockStatus::NotImplemented => "this kernel has no Landlock (Linux 6.2 or later \
                                           built with CONFIG_SECURITY_LANDLOCK is needed)"
            .into(),
        LandlockStatus::Available { .. } => format!(
            "this kernel's Landlock ABI {} cannot control truncation and cross-directory \
             links (ABI 3, Linux 6.2, is needed)",
            abi_of(status).unwrap_or_else(|| "?".into())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_without_landlock_refuses_exec_and_names_the_setting() {
        let no = Support::Unavailable {
            reason: "this kernel has no Landlock".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let err = prepare_on(&no, Sandbox::Landlock, dir.path(), dir.path())
            .err()
            .expect("refused");
        let text = err.to_string();
        for want in [
            "exec refused",
            "this kernel has no Landlock",
            "Nothing ran",
            "sandbox: \"none\"",
            "agents.entries.<id>.sandbox",
            "agents.defaults.sandbox",
        ] {
            assert!(text.contains(want), "{want:?} missing from {text}");
        }
        // The operator's explicit opt-out is the only way past it.
        assert!(prepare_on(&no, Sandbox::None, dir.path(), dir.path())
            .unwrap()
            .is_none());

        let page = describe_on(&no, Sandbox::Landlock);
        assert!(!page.runs);
        assert!(page
            .text
            .contains("cannot be enforced: this kernel has no Landlock"));
        let page = describe_on(&no, Sandbox::None);
        assert!(page.runs && page.text.starts_with("none: exec runs unconfined"));
        let yes = Support::Enforced { abi: "7".into() };
        assert_eq!(
            describe_on(&yes, Sandbox::Landlock).text,
            "landlock (ABI 7): writes limited to workspace + tmp"
        );
    }

    #[test]
    fn a_workspace_of_slash_is_refused_rather_than_confined_to_everything() {
        let yes = Support::Enforced { abi: "7".into() };
        let dir = tempfile::tempdir().unwrap();
        let err = prepare_on(&yes, Sandbox::Landlock, Path::new("/"), dir.path())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("the workspace is `/`"), "{err}");
        assert!(!err.to_string().contains("sandbox"), "{err}");
    }
}
