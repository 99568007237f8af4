//! The C ABI of the migration module, modelled on wasmtime's `crates/c-api` and uniffi's call
//! status: opaque handles (`dcm_module`, `dcm_error`), error objects returned by every fallible
//! function (NULL on success), `repr(C)` callback tables for the pool's services, and
//! integers for every enumeration. The header `include/dcache_migration.h` is generated from
//! this crate by cbindgen (see `build.rs`); `docs/c-api.md` is the guide.
//!
//! Layout: [`constants`] (every number of the ABI), [`error`] (error objects and the panic
//! guard), [`strings`] (strings in and out), [`types`] (plain data structs and their
//! conversions), [`callbacks`] (the host tables and the core's host traits over them),
//! [`module`] (the module handle and its functions), [`commands`] (the command list),
//! [`messages`] (the inter-pool messages with dCache's fields).

#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

// Declaration order is the header's order (cbindgen keeps it); the blank lines keep rustfmt
// from sorting the declarations.
pub mod constants;

pub mod error;

pub mod strings;

pub mod types;

pub mod callbacks;

pub mod module;

pub mod commands;

pub mod messages;

mod live;

pub use callbacks::*;
pub use commands::*;
pub use constants::*;
pub use error::{dcm_error, dcm_error_code, dcm_error_free, dcm_error_message};
pub use messages::*;
pub use module::*;
pub use strings::dcm_string_free;
pub use types::*;
