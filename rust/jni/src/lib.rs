//! The JNI layer of the migration module (in progress).
