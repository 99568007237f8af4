//! The three types of the language and the values of those types.

use std::fmt;

/// The type of an expression or symbol; displays as dCache spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// A 64-bit IEEE floating point number; the only numeric type.
    Double,
    /// `true` or `false`.
    Boolean,
    /// A string of characters.
    String,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Double => "DOUBLE",
            Type::Boolean => "BOOLEAN",
            Type::String => "STRING",
        })
    }
}

/// A value of a symbol or sub-expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Double(f64),
    /// A truth value.
    Boolean(bool),
    /// A string.
    String(String),
}

impl Value {
    /// The type of this value.
    pub fn ty(&self) -> Type {
        match self {
            Value::Double(_) => Type::Double,
            Value::Boolean(_) => Type::Boolean,
            Value::String(_) => Type::String,
        }
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Double(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Boolean(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::String(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::String(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_display_in_dcache_spelling() {
        assert_eq!(Type::Double.to_string(), "DOUBLE");
        assert_eq!(Type::Boolean.to_string(), "BOOLEAN");
        assert_eq!(Type::String.to_string(), "STRING");
    }

    #[test]
    fn values_know_their_type() {
        assert_eq!(Value::from(1.0).ty(), Type::Double);
        assert_eq!(Value::from(true).ty(), Type::Boolean);
        assert_eq!(Value::from("a").ty(), Type::String);
    }
}
