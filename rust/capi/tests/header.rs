//! The committed header `include/dcache_migration.h` must be exactly what cbindgen generates
//! from this crate now (build.rs writes it to `OUT_DIR`).

use std::fs;
use std::path::Path;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/dcache_migration.h"));
const BLESS: &str = "DCM_BLESS=1 cargo test -p migration-capi --test header";

#[test]
fn committed_header_is_what_cbindgen_generates() {
    assert!(!GENERATED.starts_with("#error"), "cbindgen failed: {GENERATED}");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include/dcache_migration.h");
    if std::env::var_os("DCM_BLESS").is_some() {
        fs::write(&committed_path, GENERATED).expect("include/ is writable");
        return;
    }
    let committed = fs::read_to_string(&committed_path).unwrap_or_default();
    if committed == GENERATED {
        return;
    }
    let line = committed
        .lines()
        .zip(GENERATED.lines())
        .position(|(a, b)| a != b)
        .map_or_else(|| committed.lines().count().min(GENERATED.lines().count()) + 1, |i| i + 1);
    let show = |text: &str| text.lines().nth(line - 1).unwrap_or("<end of file>").to_string();
    panic!(
        "include/dcache_migration.h is stale (first difference at line {line}):\n  committed: {}\n  generated: {}\n\
         Regenerate it with:\n  {BLESS}\nand commit the result.",
        show(&committed),
        show(GENERATED),
    );
}
