//! What the CLI prints. `println!` panics when its pipe is closed
//! (`switchyard cron runs … | head` printed "failed printing to stdout:
//! Broken pipe" and exited 101), because Rust ignores SIGPIPE. Every CLI
//! line goes through [`outln!`](crate::outln) / [`out!`](crate::out) /
//! [`errln!`](crate::errln) instead: a closed pipe ends the process at once
//! and quietly with 141, the status a shell shows for a command SIGPIPE
//! killed (`yes | head`); any other write error is reported, status 1.
//!
//! SIGPIPE is not set back to its default for the CLI instead: the CLI and
//! the server share the binary, and the server must never die of a write to
//! a closed socket or a dead child's stdin.

use std::fmt;
use std::io::{self, Write};

/// The exit status after a closed pipe (128 + SIGPIPE).
pub const CLOSED_PIPE_STATUS: i32 = 141;

#[derive(Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Writes `args` (and a newline when `newline`), ending the process on a
/// write error.
pub fn write(stream: Stream, args: fmt::Arguments<'_>, newline: bool) {
    let result = match stream {
        Stream::Stdout => write_to(&mut io::stdout().lock(), args, newline),
        Stream::Stderr => write_to(&mut io::stderr().lock(), args, newline),
    };
    if let Err(e) = result {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(CLOSED_PIPE_STATUS);
        }
        let name = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        // Best effort: stderr may be what failed.
        let _ = writeln!(io::stderr(), "switchyard: cannot write to {name}: {e}");
        std::process::exit(1);
    }
}

fn write_to(w: &mut impl Write, args: fmt::Arguments<'_>, newline: bool) -> io::Result<()> {
    w.write_fmt(args)?;
    if newline {
        w.write_all(b"\n")?;
    }
    // Flushed line by line as before, so a closed pipe shows here and not
    // in the exit's flush, where it would be dropped silently.
    w.flush()
}

/// For the server's own lines (its address, the first admin password):
/// a closed stdout or stderr must not stop a running server.
pub fn best_effort(stream: Stream, args: fmt::Arguments<'_>) {
    let _ = match stream {
        Stream::Stdout => write_to(&mut io::stdout().lock(), args, true),
        Stream::Stderr => write_to(&mut io::stderr().lock(), args, true),
    };
}

/// `println!` for the CLI; see the module.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write($crate::output::Stream::Stdout, format_args!($($arg)*), true)
    };
}

/// `print!` for the CLI; see the module.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write($crate::output::Stream::Stdout, format_args!($($arg)*), false)
    };
}

/// `eprintln!` for the CLI; see the module.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write($crate::output::Stream::Stderr, format_args!($($arg)*), true)
    };
}
