//! OpenClaw import and export (docs/config.md, "OpenClaw import"). Operators
//! arrive with an `openclaw.json` (JSON5) in one of OpenClaw's roster shapes
//! and with its cron store; this module turns them into a Switchyard config
//! and back, keeping every key Switchyard does not read, translating what
//! has a Switchyard meaning, and naming everything else in the report.

mod cron;
mod export;
mod import;
mod providers;
mod roster;

pub use export::{export, Export, Shape};
pub use import::{import, ImportReport, JobState};
