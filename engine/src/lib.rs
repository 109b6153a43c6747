//! Switchyard's domain. Config types and their effective resolution are plain
//! data and compile everywhere (the console's wasm uses them too); the store and
//! the services that touch it sit behind the `server` feature.
//!
//! No web-framework types live here: the server crate maps [`Error`] to HTTP in
//! one place, and the console's server functions call the same [`fleet::Fleet`]
//! methods as the REST API.

pub mod config;
pub mod drill;
pub mod error;
pub mod failure;
pub mod health;
pub mod identity;
pub mod runs;

#[cfg(feature = "server")]
pub mod accounts;
#[cfg(feature = "server")]
pub mod agent;
#[cfg(feature = "server")]
pub mod clock;
#[cfg(feature = "server")]
pub mod doctor;
#[cfg(feature = "server")]
pub mod fleet;
#[cfg(feature = "server")]
pub mod harness;
#[cfg(feature = "server")]
pub mod openclaw;
#[cfg(feature = "server")]
pub mod process;
#[cfg(feature = "server")]
pub mod provider;
#[cfg(feature = "server")]
pub mod router;
#[cfg(feature = "server")]
pub mod scheduler;
#[cfg(feature = "server")]
pub mod service;
#[cfg(feature = "server")]
pub mod sim;
#[cfg(feature = "server")]
pub mod store;

pub use error::{Error, ErrorKind, Problem};

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;
