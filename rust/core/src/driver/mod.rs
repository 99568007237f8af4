//! Drivers execute the module's effects: [`runtime`] on tokio in production, [`sim`] under a
//! simulated clock in tests. Both run the local-repository effects through [`repository_effects`].

pub mod memory;
pub mod pending;
pub mod replica_index;
mod replica_space;
pub mod repository_effects;
pub mod runtime;
pub mod sim;
mod sticky_expiry;
