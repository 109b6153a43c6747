//! Tests of the native engine's tools: workspace confinement, the file tools,
//! and `exec`'s process handling.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::agent::exec::{exec, ExecLimits};
use crate::agent::workspace::Workspace;
use crate::config::Tool;

const ALL_TOOLS: [Tool; 4] = [Tool::Exec, Tool::ReadFile, Tool::WriteFile, Tool::ListDir];

/// A tempdir holding the workspace `ws/` and, next to it, `secret.txt` that no
/// tool may reach.
struct Fixture {
    _dir: tempfile::TempDir,
    base: PathBuf,
    ws: Workspace,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(base.join("secret.txt"), "secret").unwrap();
    // Opening creates the directory.
    let ws = Workspace::open(&base.join("ws")).unwrap();
    assert!(base.join("ws").is_dir());
    Fixture {
        _dir: dir,
        base,
        ws,
    }
}

async fn call_tool(f: &Fixture, name: &str, args: serde_json::Value) -> ToolResult {
    call(
        &f.ws,
        &ALL_TOOLS,
        name,
        &args.to_string(),
        &ExecLimits::default(),
    )
    .await
}

/// Every file under `dir`, relative, sorted (to prove nothing was written).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

// ---------------------------------------------------------------------------
// Confinement

#[test]
fn resolve_refuses_every_escape_and_names_path_and_root() {
    let f = fixture();
    let root = f.ws.root().to_path_buf();
    symlink("/", root.join("link")).unwrap();
    symlink(&f.base, root.join("out")).unwrap();
    symlink("..", root.join("up")).unwrap();
    symlink(f.base.join("nowhere.txt"), root.join("dangling")).unwrap();
    std::fs::create_dir(f.base.join("ws2")).unwrap();

    let secret = f.base.join("secret.txt").display().to_string();
    let sibling = f.base.join("ws2/x").display().to_string();
    let attempts = [
        "../secret.txt",
        "../../etc/passwd",
        "/etc/passwd",
        "/",
        "sub/../../x",
        "sub/..",
        "./..",
        "",
        "   ",
        "a\0b",
        secret.as_str(),
        sibling.as_str(), // `ws2` shares the prefix `ws` as a string, not as a path
        "link/etc/passwd",
        "link",
        "out/secret.txt",
        "out/new.txt",      // doesn't exist, but its directory escapes
        "out/new/deep.txt", // neither does its parent
        "up/secret.txt",
        "dangling",
    ];
    for path in attempts {
        let err = f.ws.resolve(path).expect_err(path);
        let msg = err.to_string();
        assert!(
            matches!(err, ToolError::OutsideWorkspace { .. }),
            "{path:?}: {msg}"
        );
        assert!(msg.contains(&format!("path `{path}`")), "{msg}");
        assert!(
            msg.contains(&format!("escapes the workspace `{}`", root.display())),
            "{msg}"
        );
    }
}

#[test]
fn resolve_accepts_paths_inside() {
    let f = fixture();
    let root = f.ws.root().to_path_buf();
    std::fs::create_dir(root.join("sub")).unwrap();
    symlink(root.join("sub"), root.join("inner")).unwrap();
    symlink("sub", root.join("relinner")).unwrap();
    // A link from outside onto the workspace: absolute paths through it resolve inside.
    symlink(&root, f.base.join("alias")).unwrap();

    let cases = [
        (".".to_string(), root.clone()),
        ("a.txt".to_string(), root.join("a.txt")),
        ("./a.txt".to_string(), root.join("a.txt")),
        ("sub/./b/c".to_string(), root.join("sub/b/c")),
        ("sub/".to_string(), root.join("sub")),
        (root.join("a.txt").display().to_string(), root.join("a.txt")),
        (root.display().to_string(), root.clone()),
        ("inner/new.txt".to_string(), root.join("sub/new.txt")),
        ("relinner/x/y".to_string(), root.join("sub/x/y")),
        (
            f.base.join("alias/a.txt").display().to_string(),
            root.join("a.txt"),
        ),
    ];
    for (path, want) in cases {
        assert_eq!(f.ws.resolve(&path).unwrap(), want, "{path}");
    }
}

#[tokio::test]
async fn file_tools_write_nothing_outside() {
    let f = fixture();
    let root = f.ws.root().to_path_buf();
    symlink("/", root.join("link")).unwrap();
    symlink(&f.base, root.join("out")).unwrap();
    symlink(f.base.join("dangling.txt"), root.join("dangling")).unwrap();
    let before = tree(&f.base);

    for path in [
        "../escaped.txt",
        "sub/../../escaped.txt",
        "out/escaped.txt",
        "out/dir/escaped.txt",
        "dangling",
        "../secret.txt",
        f.base.join("escaped.txt").to_str().unwrap(),
    ] {
        let r = call_tool(
            &f,
            "write_file",
            serde_json::json!({"path": path, "content": "x"}),
        )
        .await;
        assert!(r.is_error, "{path}: {r:?}");
        assert!(r.content.contains("escapes the workspace"), "{}", r.content);
    }
    for path in [
        "../secret.txt",
        "out/secret.txt",
        "link/etc/passwd",
        "/etc/passwd",
    ] {
        let r = call_tool(&f, "read_file", serde_json::json!({ "path": path })).await;
        assert!(r.is_error, "{path}: {r:?}");
        assert!(!r.content.contains("secret\n") && r.content != "secret");
        assert!(r.content.contains("escapes the workspace"), "{}", r.content);
    }
    for path in ["..", "out", "link", "/"] {
        let r = call_tool(&f, "list_dir", serde_json::json!({ "path": path })).await;
        assert!(r.is_error, "{path}: {r:?}");
    }

    assert_eq!(tree(&f.base), before);
    assert_eq!(
        std::fs::read_to_string(f.base.join("secret.txt")).unwrap(),
        "secret"
    );
}

// ---------------------------------------------------------------------------
// File tools

#[tokio::test]
async fn write_then_read_and_list() {
    let f = fixture();
    let w = call_tool(
        &f,
        "write_file",
        serde_json::json!({"path": "notes/today/plan.md", "content": "step 1\nstep 2 ✓\n"}),
    )
    .await;
    assert!(!w.is_error, "{w:?}");
    assert!(w.content.contains("notes/today/plan.md"), "{}", w.content);
    assert_eq!(
        std::fs::read_to_string(f.ws.root().join("notes/today/plan.md")).unwrap(),
        "step 1\nstep 2 ✓\n"
    );

    let r = call_tool(
        &f,
        "read_file",
        serde_json::json!({"path": "notes/today/plan.md"}),
    )
    .await;
    assert_eq!(r, ToolResult::ok("step 1\nstep 2 ✓\n"));

    // Overwrite; absolute path inside is fine.
    let abs = f.ws.root().join("notes/today/plan.md");
    let w = call_tool(
        &f,
        "write_file",
        serde_json::json!({"path": abs.to_str().unwrap(), "content": "done"}),
    )
    .await;
    assert!(!w.is_error, "{w:?}");
    let r = call_tool(
        &f,
        "read_file",
        serde_json::json!({"path": "./notes/today/plan.md"}),
    )
    .await;
    assert_eq!(r, ToolResult::ok("done"));

    std::fs::write(f.ws.root().join("b.txt"), "").unwrap();
    std::fs::write(f.ws.root().join("A.txt"), "").unwrap();
    std::fs::create_dir(f.ws.root().join("c")).unwrap();
    symlink("notes", f.ws.root().join("d")).unwrap();

    let expected = "A.txt\nb.txt\nc/\nd/\nnotes/";
    for args in ["", " null ", "{}", r#"{"path": "."}"#, r#"{"path": null}"#] {
        let l = call(&f.ws, &ALL_TOOLS, "list_dir", args, &ExecLimits::default()).await;
        assert_eq!(l, ToolResult::ok(expected), "args {args:?}");
    }
    let l = call_tool(&f, "list_dir", serde_json::json!({"path": "notes"})).await;
    assert_eq!(l, ToolResult::ok("today/"));
    let l = call_tool(&f, "list_dir", serde_json::json!({"path": "c"})).await;
    assert!(!l.is_error && l.content.contains("empty"), "{l:?}");
}

#[tokio::test]
async fn file_tool_errors_are_results_the_model_can_act_on() {
    let f = fixture();
    let root = f.ws.root();
    std::fs::create_dir(root.join("dir")).unwrap();
    std::fs::write(
        root.join("big.txt"),
        "x".repeat(READ_FILE_CAP_BYTES as usize + 1),
    )
    .unwrap();
    std::fs::write(
        root.join("max.txt"),
        "y".repeat(READ_FILE_CAP_BYTES as usize),
    )
    .unwrap();
    std::fs::write(root.join("bin.dat"), [b'o', b'k', 0xff, 0xfe]).unwrap();

    let cases: [(&str, serde_json::Value, &str); 9] = [
        (
            "read_file",
            serde_json::json!({"path": "big.txt"}),
            "262145 bytes, over the read_file limit of 262144 bytes",
        ),
        (
            "read_file",
            serde_json::json!({"path": "bin.dat"}),
            "not UTF-8 text (invalid byte at offset 2)",
        ),
        (
            "read_file",
            serde_json::json!({"path": "dir"}),
            "is a directory; use list_dir",
        ),
        (
            "read_file",
            serde_json::json!({"path": "missing.txt"}),
            "cannot read `missing.txt`",
        ),
        (
            "read_file",
            serde_json::json!({"file": "x"}),
            "missing field `path`",
        ),
        ("read_file", serde_json::json!({"path": 7}), "invalid type"),
        (
            "write_file",
            serde_json::json!({"path": "dir", "content": "x"}),
            "is a directory",
        ),
        (
            "write_file",
            serde_json::json!({"path": "new.txt"}),
            "missing field `content`",
        ),
        (
            "list_dir",
            serde_json::json!({"path": "big.txt"}),
            "is not a directory",
        ),
    ];
    for (tool, args, want) in cases {
        let r = call_tool(&f, tool, args.clone()).await;
        assert!(r.is_error, "{tool} {args}: {r:?}");
        assert!(r.content.contains(want), "{tool} {args}: {}", r.content);
    }
    assert!(!root.join("new.txt").exists());

    // Exactly at the cap is fine.
    let r = call_tool(&f, "read_file", serde_json::json!({"path": "max.txt"})).await;
    assert!(!r.is_error);
    assert_eq!(r.content.len(), READ_FILE_CAP_BYTES as usize);
}

#[tokio::test]
async fn bad_calls_are_errors_not_panics() {
    let f = fixture();
    let limits = ExecLimits::default();
    let only_read = [Tool::ReadFile];

    let r = call(&f.ws, &ALL_TOOLS, "rm_rf", "{}", &limits).await;
    assert!(r.is_error);
    assert!(r.content.contains("unknown tool `rm_rf`"), "{}", r.content);
    assert!(
        r.content.contains("exec, read_file, write_file, list_dir"),
        "{}",
        r.content
    );

    let r = call(
        &f.ws,
        &only_read,
        "exec",
        r#"{"command": "touch pwned"}"#,
        &limits,
    )
    .await;
    assert!(r.is_error);
    assert!(r.content.contains("`exec` is not enabled"), "{}", r.content);
    assert!(
        r.content.contains("available tools are: read_file"),
        "{}",
        r.content
    );
    assert!(!f.ws.root().join("pwned").exists());

    let r = call(&f.ws, &[], "list_dir", "{}", &limits).await;
    assert!(
        r.is_error && r.content.contains("are: none"),
        "{}",
        r.content
    );

    for (args, want) in [
        (r#"{"path": "a.txt", "content": "#, "EOF while parsing"),
        ("not json", "expected ident"),
        (r#"["a.txt", "x"]"#, "must be a JSON object, not an array"),
        (r#"{"content": "x"}"#, "missing field `path`"),
    ] {
        let r = call(&f.ws, &ALL_TOOLS, "write_file", args, &limits).await;
        assert!(r.is_error, "{args}");
        assert!(
            r.content.contains("invalid arguments for `write_file`"),
            "{}",
            r.content
        );
        assert!(r.content.contains(want), "{args}: {}", r.content);
        assert!(r
            .content
            .contains(r#"{"path": "notes.txt", "content": "text"}"#));
    }

    let r = call(&f.ws, &ALL_TOOLS, "exec", r#"{"command": "  "}"#, &limits).await;
    assert!(
        r.is_error && r.content.contains("`command` is empty"),
        "{}",
        r.content
    );
    // Extra fields are ignored.
    let r = call(
        &f.ws,
        &ALL_TOOLS,
        "exec",
        r#"{"command": "echo hi", "why": "x"}"#,
        &limits,
    )
    .await;
    assert!(!r.is_error, "{r:?}");
    assert_eq!(tree(f.ws.root()), Vec::<String>::new());
}

#[test]
fn definitions_follow_enabled_tools() {
    let all = definitions(&ALL_TOOLS);
    let names: Vec<_> = all.iter().map(|d| d.name).collect();
    assert_eq!(names, ["exec", "read_file", "write_file", "list_dir"]);
    for (d, tool) in all.iter().zip(ALL_TOOLS) {
        // The names the model sees are the config's serde names.
        assert_eq!(serde_json::to_value(tool).unwrap(), d.name);
        assert_eq!(tool_by_name(d.name), Some(tool));
        assert_eq!(d.parameters["type"], "object");
        assert!(!d.description.is_empty());
    }
    assert_eq!(
        all[2].parameters["required"],
        serde_json::json!(["path", "content"])
    );

    let some = definitions(&[Tool::ListDir, Tool::ReadFile, Tool::ListDir]);
    let names: Vec<_> = some.iter().map(|d| d.name).collect();
    assert_eq!(names, ["read_file", "list_dir"]);
    assert!(definitions(&[]).is_empty());
    assert_eq!(tool_by_name("shell"), None);
}

// ---------------------------------------------------------------------------
// exec

/// Whether `pid` is gone: no such process, or only a zombie left for its
/// (possibly non-reaping) new parent.
fn is_dead(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(false)
}

/// Waits (bounded, ~2 s) for `pid` to die: SIGKILL delivery and reaping are
/// asynchronous. Returns whether it did.
async fn wait_dead(pid: i32) -> bool {
    for _ in 0..200 {
        if is_dead(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    is_dead(pid)
}

fn read_pid(path: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.ends_with('\n') {
        return None; // still being written
    }
    text.trim().parse().ok()
}

#[tokio::test]
async fn exec_captures_output_and_exit_code() {
    let f = fixture();
    let o = exec(
        &f.ws,
        "pwd; echo out; echo err >&2; cat; exit 3",
        &ExecLimits::default(),
    )
    .await;
    assert_eq!(o.exit_code, Some(3));
    assert_eq!(o.signal, None);
    assert_eq!(o.stdout, format!("{}\nout\n", f.ws.root().display()));
    assert_eq!(o.stderr, "err\n");
    assert!(!o.truncated && !o.timed_out);

    let r = call_tool(
        &f,
        "exec",
        serde_json::json!({"command": "echo hi; echo oops >&2; exit 3"}),
    )
    .await;
    assert!(
        !r.is_error,
        "a failing command is a result, not a tool error"
    );
    assert_eq!(
        r.content,
        "exit code 3\n--- stdout ---\nhi\n--- stderr ---\noops"
    );

    let r = call_tool(&f, "exec", serde_json::json!({"command": "true"})).await;
    assert_eq!(r, ToolResult::ok("exit code 0\n(no output)"));

    let o = exec(&f.ws, "kill -9 $$", &ExecLimits::default()).await;
    assert_eq!((o.exit_code, o.signal), (None, Some(libc::SIGKILL)));
    let r = call_tool(&f, "exec", serde_json::json!({"command": "kill -9 $$"})).await;
    assert!(
        r.content.starts_with("killed by signal 9 (SIGKILL)"),
        "{}",
        r.content
    );
}

#[tokio::test]
async fn exec_output_cap_truncates_a_flood_without_hanging() {
    let f = fixture();
    let limits = ExecLimits {
        timeout: Duration::from_secs(60),
        output_cap_bytes: 64 * 1024,
        ..ExecLimits::default()
    };
    // Both pipes flood; if either stopped being read, the writer would block
    // on a full pipe and this would run into the timeout.
    let o = exec(
        &f.ws,
        "yes | head -c 1000000; yes err | head -c 1000000 >&2; echo done >&2",
        &limits,
    )
    .await;
    assert!(!o.timed_out, "{:?}", o.duration);
    assert_eq!(o.exit_code, Some(0));
    assert!(o.truncated);
    assert_eq!(o.stdout.len(), 64 * 1024);
    assert!(o.stdout.starts_with("y\ny\n"));
    assert_eq!(o.stderr.len(), 64 * 1024);
    assert!(o.stderr.starts_with("err\nerr\n"));

    let r = call(
        &f.ws,
        &ALL_TOOLS,
        "exec",
        r#"{"command": "yes | head -c 100000"}"#,
        &ExecLimits {
            timeout: Duration::from_secs(60),
            output_cap_bytes: 10,
            ..ExecLimits::default()
        },
    )
    .await;
    assert_eq!(
        r.content,
        "exit code 0\n--- stdout ---\ny\ny\ny\ny\ny\n[output truncated at 10 bytes]"
    );

    // Under the cap: not truncated.
    let o = exec(&f.ws, "head -c 1000 /dev/zero", &limits).await;
    assert!(!o.truncated);
    assert_eq!(o.stdout.len(), 1000);
}

#[tokio::test]
async fn exec_timeout_kills_the_whole_process_group() {
    let f = fixture();
    let limits = ExecLimits {
        timeout: Duration::from_millis(300),
        output_cap_bytes: 1024,
        ..ExecLimits::default()
    };
    let o = exec(
        &f.ws,
        "echo started; sleep 60 & echo $! > pid; wait",
        &limits,
    )
    .await;
    assert!(o.timed_out);
    assert_eq!(o.exit_code, None);
    assert_eq!(o.signal, Some(libc::SIGKILL));
    assert_eq!(o.stdout, "started\n", "output before the kill is kept");
    assert!(o.duration < Duration::from_secs(30), "{:?}", o.duration);

    let pid = read_pid(&f.ws.root().join("pid")).expect("the command wrote the pid");
    assert!(
        wait_dead(pid).await,
        "background child {pid} survived the timeout"
    );

    let r = call(
        &f.ws,
        &ALL_TOOLS,
        "exec",
        r#"{"command": "sleep 30"}"#,
        &limits,
    )
    .await;
    assert!(r.is_error);
    assert_eq!(
        r.content,
        "timed out after 300ms, process group killed\n(no output)"
    );
}

#[tokio::test]
async fn exec_kills_background_jobs_left_when_the_shell_exits() {
    let f = fixture();
    let limits = ExecLimits {
        timeout: Duration::from_secs(60),
        output_cap_bytes: 1024,
        ..ExecLimits::default()
    };
    // The background `sleep` keeps stdout open; without the group kill reading
    // would wait for it (here: into the timeout).
    let o = exec(&f.ws, "sleep 60 & echo $! > pid; echo bye", &limits).await;
    assert!(!o.timed_out);
    // Returned on the shell's exit, not at the deadline's kill.
    assert!(o.duration < limits.timeout / 2, "{:?}", o.duration);
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(o.stdout, "bye\n");
    let pid = read_pid(&f.ws.root().join("pid")).unwrap();
    assert!(
        wait_dead(pid).await,
        "background job {pid} outlived the command"
    );
}

#[tokio::test]
async fn dropping_exec_kills_the_process_group() {
    let f = fixture();
    let limits = ExecLimits {
        timeout: Duration::from_secs(60),
        output_cap_bytes: 1024,
        ..ExecLimits::default()
    };
    let pid_file = f.ws.root().join("pid");
    let mut run = Box::pin(exec(&f.ws, "sleep 60 & echo $! > pid; wait", &limits));
    let mut pid = None;
    // Drive the run until the command has started its background child.
    for _ in 0..1000 {
        tokio::select! {
            o = &mut run => panic!("finished early: {o:?}"),
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
        pid = read_pid(&pid_file);
        if pid.is_some() {
            break;
        }
    }
    let pid = pid.expect("the command wrote the pid");
    assert!(!is_dead(pid));
    drop(run); // the run is cancelled
    assert!(
        wait_dead(pid).await,
        "background child {pid} survived cancellation"
    );
}

#[tokio::test]
async fn exec_that_cannot_start_is_reported() {
    let f = fixture();
    std::fs::remove_dir(f.ws.root()).unwrap();
    let o = exec(&f.ws, "echo hi", &ExecLimits::default()).await;
    assert_eq!((o.exit_code, o.signal), (None, None));
    assert!(o.stderr.contains("could not start `sh`"), "{}", o.stderr);
    let r = call_tool(&f, "exec", serde_json::json!({"command": "echo hi"})).await;
    assert!(r.is_error);
    assert!(
        r.content.starts_with("the command did not run"),
        "{}",
        r.content
    );
}

#[test]
fn open_reports_an_unusable_root() {
    let f = fixture();
    let file = f.base.join("secret.txt");
    let err = Workspace::open(&file).unwrap_err();
    assert!(matches!(err, ToolError::Workspace { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot open the workspace"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// exec's environment and sandbox (docs/SECURITY.md, "exec sandbox")

use crate::agent::sandbox::{self, Support};
use crate::config::Sandbox;

/// A secret in the server's environment, as a provider key would be. Set
/// once: every test that checks for it sees the same value.
fn canary() -> (&'static str, &'static str) {
    const NAME: &str = "SWITCHYARD_TEST_EXEC_CANARY_9F3A";
    const VALUE: &str = "sk-canary-5d1e8b7c2a";
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| std::env::set_var(NAME, VALUE));
    (NAME, VALUE)
}

/// Whether this kernel enforces the sandbox; says SKIP when it does not.
fn landlock_here(test: &str) -> bool {
    match sandbox::support() {
        Support::Enforced { abi } => {
            println!("{test}: Landlock ABI {abi}");
            true
        }
        Support::Unavailable { reason } => {
            println!("SKIP: {test}: {reason}");
            false
        }
    }
}

fn limits(sandbox: Sandbox) -> ExecLimits {
    ExecLimits {
        sandbox,
        ..ExecLimits::default()
    }
}

/// A path in the system temp dir nobody else uses.
fn unique_outside(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("switchyard-{tag}-{}-{nanos}", std::process::id()))
}

#[tokio::test]
async fn exec_gets_a_minimal_environment_not_the_servers() {
    let (name, value) = canary();
    assert_eq!(std::env::var(name).unwrap(), value);
    let f = fixture();
    let modes: &[Sandbox] = if landlock_here("minimal environment") {
        &[Sandbox::Landlock, Sandbox::None]
    } else {
        &[Sandbox::None]
    };
    for &mode in modes {
        let o = exec(&f.ws, "env", &limits(mode)).await;
        assert_eq!(o.exit_code, Some(0), "{mode}: {o:?}");
        assert!(
            !o.stdout.contains(value),
            "{mode}: the canary leaked: {}",
            o.stdout
        );
        assert!(!o.stdout.contains(name), "{mode}: {}", o.stdout);
        let vars: std::collections::BTreeMap<&str, &str> = o
            .stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            // What the shell itself adds.
            .filter(|(k, _)| !["PWD", "OLDPWD", "SHLVL", "_"].contains(k))
            .collect();
        let names: Vec<&str> = vars.keys().copied().collect();
        assert_eq!(names, ["HOME", "LANG", "PATH", "TERM", "TMPDIR"], "{mode}");
        assert_eq!(vars["PATH"], sandbox::SAFE_PATH);
        assert_eq!(vars["HOME"], f.ws.root().to_str().unwrap());
        assert_eq!(vars["LANG"], "C.UTF-8");
        assert_eq!(vars["TERM"], "dumb");
        assert_ne!(vars["TMPDIR"], std::env::temp_dir().to_str().unwrap());

        // What reaches the model (and the transcript) is clean too.
        let r = call(
            &f.ws,
            &ALL_TOOLS,
            "exec",
            r#"{"command": "env; set"}"#,
            &limits(mode),
        )
        .await;
        assert!(!r.content.contains(value), "{mode}: {}", r.content);
    }
}

#[tokio::test]
async fn sandboxed_exec_cannot_read_the_servers_environment_through_proc() {
    let (_, value) = canary();
    if !landlock_here("/proc/$PPID/environ") {
        return;
    }
    let f = fixture();
    // The shell's parent is this process, i.e. the server.
    let o = exec(
        &f.ws,
        "tr '\\0' '\\n' < /proc/$PPID/environ",
        &limits(Sandbox::Landlock),
    )
    .await;
    assert_ne!(o.exit_code, Some(0), "{o:?}");
    assert!(!o.stdout.contains(value), "{}", o.stdout);
    assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
}

#[tokio::test]
async fn sandboxed_exec_writes_only_inside_the_workspace_and_its_tmpdir() {
    if !landlock_here("write confinement") {
        return;
    }
    let f = fixture();
    let outside = unique_outside("sandbox-outside");
    // The server's data directory, next to the workspace as it often is.
    let data = f.base.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("switchyard.db"), "rows").unwrap();
    let l = limits(Sandbox::Landlock);

    let outside_q = outside.display();
    let data_q = data.display();
    let attacks = [
        format!("touch {outside_q}"),
        format!("echo x > {data_q}/switchyard.db"),
        format!("echo x >> {data_q}/switchyard.db"),
        format!("echo x > {data_q}/new"),
        format!("truncate -s 0 {data_q}/switchyard.db"),
        format!("rm {data_q}/switchyard.db"),
        format!("mkdir {data_q}/dir"),
        format!("ln {data_q}/switchyard.db hard && echo x > hard"),
        format!("ln -s {data_q} link && echo x > link/new"),
        format!("echo x > in.txt && mv in.txt {data_q}/moved"),
        format!("cd {data_q} && echo x > relative"),
        "echo x > ../escaped".to_string(),
    ];
    for attack in &attacks {
        let o = exec(&f.ws, attack, &l).await;
        assert_ne!(o.exit_code, Some(0), "{attack}: {o:?}");
        // Landlock answers a link or rename across its boundary with EXDEV.
        assert!(
            [
                "Permission denied",
                "Operation not permitted",
                "Invalid cross-device link"
            ]
            .iter()
            .any(|e| o.stderr.contains(e)),
            "{attack}: {}",
            o.stderr
        );
    }
    assert!(!outside.exists(), "{} was created", outside.display());
    assert_eq!(
        std::fs::read_to_string(data.join("switchyard.db")).unwrap(),
        "rows"
    );
    let mut left: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["switchyard.db"]);
    assert!(!f.base.join("escaped").exists());
    assert!(!f.ws.root().join("hard").exists());

    // Inside: the workspace, its TMPDIR, and the usual device files.
    let o = exec(
        &f.ws,
        "set -e; mkdir -p a/b; echo in > a/b/in.txt; echo t > \"$TMPDIR/t\"; \
         mv \"$TMPDIR/t\" a/t; cat a/b/in.txt a/t; echo quiet > /dev/null; \
         echo err > /dev/stderr; truncate -s 1 a/t; rm a/b/in.txt",
        &l,
    )
    .await;
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    assert_eq!(o.stdout, "in\nt\n");
    assert_eq!(o.stderr, "err\n");
    assert_eq!(
        std::fs::read_to_string(f.ws.root().join("a/t")).unwrap(),
        "t"
    );

    // Reads stay broad: programs need the system's files.
    let o = exec(&f.ws, &format!("cat {data_q}/switchyard.db"), &l).await;
    assert_eq!((o.exit_code, o.stdout.as_str()), (Some(0), "rows"), "{o:?}");
}

#[tokio::test]
async fn sandboxed_exec_has_no_capabilities_even_as_root() {
    if !landlock_here("capabilities") {
        return;
    }
    let f = fixture();
    let o = exec(
        &f.ws,
        "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status",
        &limits(Sandbox::Landlock),
    )
    .await;
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    for line in o.stdout.lines() {
        assert!(line.ends_with("\t0000000000000000"), "{line}");
    }
    assert_eq!(o.stdout.lines().count(), 5, "{}", o.stdout);
}

#[tokio::test]
async fn sandboxed_exec_cannot_signal_the_server() {
    let Support::Enforced { abi } = sandbox::support() else {
        println!("SKIP: signal scope: Landlock unavailable");
        return;
    };
    if abi.parse::<u32>().unwrap_or(0) < 6 {
        println!("SKIP: signal scope needs Landlock ABI 6, this kernel has {abi}");
        return;
    }
    let f = fixture();
    let o = exec(&f.ws, "kill -0 $PPID", &limits(Sandbox::Landlock)).await;
    assert_ne!(o.exit_code, Some(0), "{o:?}");
    assert!(
        o.stderr.contains("ermi") || o.stderr.contains("ermission"),
        "{}",
        o.stderr
    );
    // Its own process group is still its own to signal.
    let o = exec(
        &f.ws,
        "sleep 5 & kill $!; wait $!; echo $?",
        &limits(Sandbox::Landlock),
    )
    .await;
    assert_eq!(o.stdout, "143\n", "{o:?}");
}

#[tokio::test]
async fn sandbox_none_is_an_explicit_opt_out() {
    let f = fixture();
    let outside = unique_outside("sandbox-none");
    let o = exec(
        &f.ws,
        &format!("touch {}", outside.display()),
        &limits(Sandbox::None),
    )
    .await;
    let created = outside.exists();
    let _ = std::fs::remove_file(&outside);
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    assert!(created, "sandbox: none runs unconfined");
}

#[tokio::test]
async fn a_runs_tmpdir_is_shared_by_its_calls() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let l = ExecLimits {
        tmp_dir: Some(tmp.path().to_path_buf()),
        ..ExecLimits::default()
    };
    if !landlock_here("run tmpdir") {
        return;
    }
    let o = exec(&f.ws, "echo kept > \"$TMPDIR/state\"", &l).await;
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    let o = exec(&f.ws, "cat \"$TMPDIR/state\"", &l).await;
    assert_eq!(o.stdout, "kept\n", "{o:?}");
    assert!(tmp.path().join("state").exists());
}
