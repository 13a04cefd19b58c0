//! # strata-tools
//!
//! The `strata` binary's subcommands, one module each, kept in a library so
//! that benchmarks and tests can call them without a process in between:
//!
//! - [`serve_command`] — `strata serve`, the server on its embedded default;
//! - [`demo`] — what `strata serve --demo` loads before serving;
//! - [`gen_command`] — `strata gen`, writing the reference dataset that
//!   [`dataset`] generates (shared `DATASET.md`);
//! - [`load_command`] — `strata load`, history from files built into
//!   segments offline;
//! - [`query_command`] — `strata query`, a Druid query sent to a running
//!   server and its answer printed.
//!
//! `src/main.rs` only parses flags and dispatches here.

pub mod dataset;
pub mod demo;
pub mod gen_command;
pub mod load_command;
pub mod query_command;
pub mod serve_command;
