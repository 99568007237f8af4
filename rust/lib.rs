//! The root artifact of the project: the native library that a Java pool (through JNI) and a
//! C program (through `include/dcache_migration.h`) load. It only re-exports the pieces; the
//! module itself lives in `rust/core`.

pub use migration_core as core;
