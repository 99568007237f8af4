//! Any expression text: parsing, type checking and evaluating must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use migration_core::expr::{Expression, Symbols, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for symbols in [Symbols::pool_predicate(), Symbols::lifetime_predicate()] {
        if let Ok(e) = Expression::parse(text, &symbols) {
            let _ = e.evaluate(&|name| match name {
                n if n.ends_with("name") => Some(Value::String("pool1".into())),
                _ => Some(Value::Double(1.5)),
            });
        }
    }
});
