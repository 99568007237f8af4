//! The syntax tree built by the parser, annotated by the type checker.

use ::regex::Regex;

use super::value::Type;

/// A binary operator other than the regular expression match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

impl BinaryOp {
    /// The type both operands must have; `None` for `==` and `!=`, which
    /// accept any type as long as both operands agree.
    pub(crate) fn operand_type(self) -> Option<Type> {
        match self {
            BinaryOp::Or | BinaryOp::And => Some(Type::Boolean),
            BinaryOp::Eq | BinaryOp::Ne => None,
            _ => Some(Type::Double),
        }
    }

    /// The type of the result.
    pub(crate) fn result_type(self) -> Type {
        match self {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem | BinaryOp::Pow => {
                Type::Double
            }
            _ => Type::Boolean,
        }
    }
}

/// A node of the syntax tree. Parentheses leave no node behind.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Number(f64),
    Str(String),
    Bool(bool),
    /// A symbol such as `target.free`, resolved when evaluated.
    Ident(String),
    /// A run of prefix signs with an odd number of `-`. A run that does not
    /// negate leaves no node, as in dCache, whose parser adds its `UMINUS` only
    /// then: `+true` and `--'a' =~ 'a'` are well typed there and here.
    Neg(Box<Node>),
    Not(Box<Node>),
    Binary {
        op: BinaryOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// `=~` (or `~=`), and `!~` when `negate`.
    Match {
        negate: bool,
        subject: Box<Node>,
        pattern: Box<Node>,
        /// Filled in by the type checker when `pattern` is a string literal.
        compiled: Option<Regex>,
    },
    Conditional {
        condition: Box<Node>,
        then: Box<Node>,
        otherwise: Box<Node>,
    },
}
