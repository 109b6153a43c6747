//! `sim`: one fault-injection toolkit for the demo, tests and benchmarks
//! (DESIGN §9). So far: the demo fleet the embedded default starts with.

pub mod codex;
pub mod demo;
pub mod provider;
