//! The native engine (DESIGN §4): Switchyard's own agent loop, and the tools
//! it offers the model, confined to the agent's workspace.

pub mod exec;
mod native;
pub mod sandbox;
pub mod tools;
pub mod workspace;

pub use native::{run_native, NativeRun, RunEnd, RunOutcome};
