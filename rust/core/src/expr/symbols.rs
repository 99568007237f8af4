//! The constants an expression may refer to, per context.

use std::collections::BTreeMap;

use super::value::Type;

/// The numeric properties of a pool, available as `source.<name>` and
/// `target.<name>`.
const POOL_NUMBERS: [&str; 5] = ["cpuCost", "free", "total", "removable", "used"];

/// Names and types of the constants that an expression may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Symbols {
    types: BTreeMap<String, Type>,
}

impl Symbols {
    /// No symbols at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// This table with `name` added (or re-typed).
    pub fn with(mut self, name: impl Into<String>, ty: Type) -> Self {
        self.insert(name, ty);
        self
    }

    /// Adds `name`, or changes its type.
    pub fn insert(&mut self, name: impl Into<String>, ty: Type) {
        self.types.insert(name.into(), ty);
    }

    /// The type of `name`, if it is defined.
    pub fn get(&self, name: &str) -> Option<Type> {
        self.types.get(name).copied()
    }

    /// All names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    /// For `-include-when` and `-exclude-when`: `source.*` and `target.*`.
    pub fn pool_predicate() -> Self {
        Self::new().with_pool("source").with_pool("target")
    }

    /// For `-pause-when` and `-stop-when`: `source.*`, `queue.files`,
    /// `queue.bytes` and `targets`.
    pub fn lifetime_predicate() -> Self {
        Self::new()
            .with_pool("source")
            .with("queue.files", Type::Double)
            .with("queue.bytes", Type::Double)
            .with("targets", Type::Double)
    }

    fn with_pool(self, prefix: &str) -> Self {
        POOL_NUMBERS.iter().fold(self.with(format!("{prefix}.name"), Type::String), |symbols, name| {
            symbols.with(format!("{prefix}.{name}"), Type::Double)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_predicate_has_source_and_target_pools() {
        let symbols = Symbols::pool_predicate();
        assert_eq!(symbols.names().count(), 12);
        assert_eq!(symbols.get("source.name"), Some(Type::String));
        assert_eq!(symbols.get("target.removable"), Some(Type::Double));
        assert_eq!(symbols.get("queue.files"), None);
    }

    #[test]
    fn lifetime_predicate_has_source_queue_and_targets() {
        let symbols = Symbols::lifetime_predicate();
        assert_eq!(symbols.names().count(), 9);
        assert_eq!(symbols.get("source.cpuCost"), Some(Type::Double));
        assert_eq!(symbols.get("queue.bytes"), Some(Type::Double));
        assert_eq!(symbols.get("targets"), Some(Type::Double));
        assert_eq!(symbols.get("target.free"), None);
    }
}
