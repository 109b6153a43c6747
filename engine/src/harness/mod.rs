//! External harnesses: programs that run a candidate's whole agent turn
//! themselves. Today one, the Codex app-server (DESIGN §2, §4); the native
//! engine lives in [`crate::agent`].

pub mod codex;
