//! The C ABI of the migration module (in progress).
