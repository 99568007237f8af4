//! The root artifact of the project: the native library that a Java pool (through JNI) and a
//! C program (through `include/dcache_migration.h`) load. It only links the pieces together;
//! the module itself lives in `rust/core`, the bindings in `rust/capi` and `rust/jni`.

pub use migration_capi as capi;
pub use migration_core as core;
pub use migration_jni as jni;
