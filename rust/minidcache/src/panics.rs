//! What a caught panic says.

use std::any::Any;

/// The message a panic was raised with, if it was text (`panic!` with a literal or a format).
pub fn message(panic: &(dyn Any + Send)) -> Option<&str> {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_and_a_formatted_message_are_read_and_anything_else_is_not() {
        let caught = |f: fn()| std::panic::catch_unwind(f).expect_err("it panics");
        assert_eq!(message(&*caught(|| panic!("literal"))), Some("literal"));
        assert_eq!(message(&*caught(|| panic!("formatted {}", 1))), Some("formatted 1"));
        assert_eq!(message(&*caught(|| std::panic::panic_any(7u8))), None);
    }
}
