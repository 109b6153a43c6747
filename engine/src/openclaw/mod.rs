//! OpenClaw import and export (DESIGN §6). Operators arrive with an
//! `openclaw.json` (JSON5) in one of two roster shapes and with cron
//! `jobs.json` / `jobs-state.json`; this module turns them into a Switchyard
//! config and back, keeping what OpenClaw's own migration loses (the pi/none
//! meaning of `embeddedHarness.fallback`) and reporting what OpenClaw lets
//! through (duplicate ids, unknown providers, chains that can never run).

mod export;
mod import;

pub use export::{export, Export, Shape};
pub use import::{import, ImportReport, JobState};
