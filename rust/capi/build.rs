//! Generates the C header from this crate's sources into `OUT_DIR`. The committed copy in
//! `include/dcache_migration.h` is compared with it by `tests/header.rs`.
//!
//! A cbindgen failure must not break the native library that Java loads: it becomes a
//! warning and a header holding `#error`, which the freshness test then reports.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("dcache_migration.h");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let generated =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).map_err(|e| e.to_string()).and_then(|config| {
            // `with_src` follows `mod` declarations without running `cargo metadata`.
            cbindgen::Builder::new()
                .with_config(config)
                .with_src(crate_dir.join("src/lib.rs"))
                .generate()
                .map_err(|e| e.to_string())
        });
    match generated {
        Ok(bindings) => {
            bindings.write_to_file(&out);
        }
        Err(e) => {
            println!("cargo:warning=cbindgen could not generate the C header: {e}");
            let text = format!("#error \"cbindgen failed: {}\"\n", e.replace(['"', '\n'], " "));
            fs::write(&out, text).expect("OUT_DIR is writable");
        }
    }
}
