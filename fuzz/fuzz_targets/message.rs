//! Any bytes from another pool: decoding and handling them must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migration_core::effect::{InboundId, Input};
use migration_core::{Config, Module};

fuzz_target!(|data: &[u8]| {
    let mut module = Module::new("pool1", Config::default(), 1);
    module.handle(0, Input::Message { from: "pool2".into(), bytes: data.to_vec(), reply: Some(InboundId(1)) });
    let _ = module.take_effects();
});
