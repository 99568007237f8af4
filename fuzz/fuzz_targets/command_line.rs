//! Any admin command line: parsing and executing it must not panic, and a refused command
//! must leave the module as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migration_core::{Config, Module};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let mut module = Module::new("pool1", Config::default(), 1);
    module.execute(0, "migration copy -permanent pool2").expect("a valid command");
    let before = module.execute(0, "migration ls").expect("ls");
    if module.execute(0, line).is_err() {
        assert_eq!(module.execute(0, "migration ls").expect("ls"), before);
    }
});
