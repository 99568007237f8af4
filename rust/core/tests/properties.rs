//! Property tests: operator-typed text and bytes from other pools never make the module panic,
//! and a refused command changes nothing. The same entry points are fuzzed by the targets in
//! `fuzz/` (see README, "Fuzzing").

use migration_core::expr::{Expression, Symbols};
use migration_core::message::{Message, Reply, decode};
use migration_core::{Config, Module, syntax};
use proptest::prelude::*;

/// Words that make a command line interesting: real commands, options, values, quotes.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("migration".to_string()),
        Just("copy".to_string()),
        Just("move".to_string()),
        Just("cache".to_string()),
        Just("info".to_string()),
        Just("set".to_string()),
        Just("concurrency".to_string()),
        Just("--".to_string()),
        Just("-".to_string()),
        "-[a-z\\-]{1,12}(=[a-z0-9.,:+()\\-]{0,12})?",
        "[a-zA-Z0-9_.,:=+()'\"\\\\\\- ]{0,16}",
        any::<String>(),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 0..8).prop_map(|w| w.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_command_line_panics_and_a_refused_one_changes_nothing(line in line()) {
        let mut module = Module::new("pool1", Config::default(), 1);
        let before = module.execute(0, "migration ls").expect("ls works");
        if module.execute(0, &line).is_err() {
            prop_assert_eq!(module.execute(0, "migration ls").expect("ls works"), before);
            prop_assert_eq!(module.setup_lines().len(), 3);
        }
    }

    #[test]
    fn tokenizing_never_panics(line in any::<String>()) {
        let _ = syntax::tokenize(&line);
        let _ = syntax::normalized(&line);
    }

    #[test]
    fn no_expression_panics(text in "[ a-z.()<>=!~+\\-*/%?:'\"0-9KMGTPi]{0,40}") {
        let _ = Expression::parse(&text, &Symbols::pool_predicate());
        if let Ok(e) = Expression::parse(&text, &Symbols::lifetime_predicate()) {
            let _ = e.evaluate(&|_| None);
        }
    }

    #[test]
    fn no_message_from_another_pool_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode::<Message>(&bytes);
        let _ = decode::<Reply>(&bytes);
        let mut module = Module::new("pool1", Config::default(), 1);
        module.handle(0, migration_core::input::Input::Message { from: "pool2".into(), bytes, reply: None });
    }

    #[test]
    fn a_malformed_request_is_answered_not_dropped(body in "\\{\"v\":1,\"body\":\\{\"[A-Za-z]{0,12}\":\\{[ -~]{0,60}\\}\\}\\}") {
        let mut module = Module::new("pool1", Config::default(), 1);
        let malformed = decode::<Message>(body.as_bytes()).is_err();
        module.handle(0, migration_core::input::Input::Message {
            from: "pool2".into(),
            bytes: body.into_bytes(),
            reply: Some(migration_core::effect::InboundId(1)),
        });
        let answered = module.take_effects().iter().any(|e| matches!(e, migration_core::effect::Effect::Respond { .. }));
        if malformed {
            prop_assert!(answered, "the sender gets an error instead of waiting for a timeout");
        }
    }
}
