//! The agent's workspace directory and the confinement of file-tool paths to it
//! (DESIGN §4).
//!
//! [`Workspace::resolve`] is the only way a model-supplied path becomes a
//! filesystem path. It refuses `..`, absolute paths outside the root, empty
//! paths, and anything whose existing part resolves (through symbolic links)
//! outside the root. Not-yet-existing trailing components are appended to the
//! canonicalized existing prefix; since they do not exist they cannot be links.
//!
//! This confines the file tools only. `exec` runs an arbitrary shell command
//! with the workspace as its working directory; the kernel confines it
//! ([`super::sandbox`], unless the agent's `sandbox` is `none`). A command may
//! swap a directory for a symlink between a `resolve` and the file operation
//! that follows it (the file tools of one run are called one at a time).

use std::io;
use std::path::{Component, Path, PathBuf};

use super::tools::ToolError;

/// An agent's workspace directory; `root` is canonical (absolute, no links).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Opens the workspace at `root`, creating the directory if it is missing.
    pub fn open(root: &Path) -> Result<Workspace, ToolError> {
        let fail = |source: io::Error| ToolError::Workspace {
            root: root.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(root).map_err(fail)?;
        let root = std::fs::canonicalize(root).map_err(fail)?;
        if !root.is_dir() {
            return Err(fail(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            )));
        }
        Ok(Workspace { root })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a model-supplied path to a path inside the workspace, or refuses it.
    ///
    /// Relative paths are relative to the root; absolute paths are allowed only
    /// if they lie inside it. The result is absolute and its existing part is
    /// canonical.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, ToolError> {
        let refuse = |reason: &str| ToolError::OutsideWorkspace {
            path: path.to_string(),
            root: self.root.clone(),
            reason: reason.to_string(),
        };
        if path.trim().is_empty() {
            return Err(refuse(
                "the path is empty (use \".\" for the workspace root)",
            ));
        }
        if path.contains('\0') {
            return Err(refuse("the path contains a NUL byte"));
        }
        let given = Path::new(path);
        if given.components().any(|c| c == Component::ParentDir) {
            return Err(refuse("`..` components are not allowed"));
        }
        let candidate = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.root.join(given)
        };
        // Normal components only from here on: `.` is dropped, `..` was refused.
        let components: Vec<Component<'_>> = candidate
            .components()
            .filter(|c| *c != Component::CurDir)
            .collect();

        // Find the longest prefix that exists and canonicalize it.
        for split in (1..=components.len()).rev() {
            let prefix: PathBuf = components[..split].iter().collect();
            match std::fs::canonicalize(&prefix) {
                Ok(canonical) => {
                    if !canonical.starts_with(&self.root) {
                        return Err(refuse(if given.is_absolute() && !prefix_is_link(&prefix) {
                            "it lies outside the workspace"
                        } else {
                            "it goes through a symbolic link that points outside"
                        }));
                    }
                    let mut resolved = canonical;
                    resolved.extend(&components[split..]);
                    return Ok(resolved);
                }
                Err(err) => match std::fs::symlink_metadata(&prefix) {
                    // The entry exists but cannot be canonicalized: a dangling
                    // symlink or a link loop. Following it on write would create
                    // a file wherever it points, so refuse.
                    Ok(meta) if meta.file_type().is_symlink() => {
                        return Err(refuse(
                            "it goes through a symbolic link whose target does not exist \
                             (or a link loop)",
                        ));
                    }
                    Ok(_) => {
                        return Err(ToolError::Io {
                            op: "cannot resolve",
                            path: path.to_string(),
                            source: err,
                        });
                    }
                    Err(missing)
                        if matches!(
                            missing.kind(),
                            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                        ) => {}
                    Err(other) => {
                        return Err(ToolError::Io {
                            op: "cannot resolve",
                            path: path.to_string(),
                            source: other,
                        });
                    }
                },
            }
        }
        // Not even `/` exists; cannot happen on a working system.
        Err(refuse("no part of it exists"))
    }
}

/// Whether some prefix of `path` (itself included) is a symbolic link; only
/// used to word the refusal.
fn prefix_is_link(path: &Path) -> bool {
    path.ancestors().any(|p| {
        std::fs::symlink_metadata(p)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
    })
}

/// `~` and `~/…` in a configured workspace are the server user's home, as
/// in OpenClaw's files (`~/.openclaw/workspace-ceo`); without this a
/// literal `./~/.openclaw/…` directory appeared. `~user` is not expanded.
pub fn expand_home(path: &str) -> PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (path, home) {
        ("~", Some(home)) => PathBuf::from(home),
        (p, Some(home)) if p.starts_with("~/") => PathBuf::from(home).join(&p[2..]),
        (p, _) => PathBuf::from(p),
    }
}

#[cfg(test)]
mod home_tests {
    use super::expand_home;
    use std::path::PathBuf;

    #[test]
    fn a_leading_tilde_is_the_home_directory() {
        let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set for tests"));
        assert_eq!(expand_home("~/.openclaw/ws"), home.join(".openclaw/ws"));
        assert_eq!(expand_home("~"), home);
        assert_eq!(expand_home("/srv/~/x"), PathBuf::from("/srv/~/x"));
        assert_eq!(expand_home("~bob/x"), PathBuf::from("~bob/x"));
    }
}
