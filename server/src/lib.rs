//! The switchyard server: wiring of the engine, the REST API and the Leptos
//! console. `main` only parses the command line; everything here is a library
//! so tests can start a real server on port 0.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config_cli;
pub mod cron_cli;
pub mod doctor_cli;
pub mod error;
pub mod health;
pub mod net;
pub mod output;
pub mod serve;
pub mod settings;
pub mod sim_cli;
pub mod state;
pub mod telemetry;
pub mod users_cli;

pub use state::AppState;
