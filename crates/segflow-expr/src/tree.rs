//! The resolved, typed expression tree that evaluation walks once per batch, and that
//! other renderings of the language (SQL per dialect) read through [`crate::Expr::tree`].

use crate::Type;
use crate::error::Pos;

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: Kind,
    pub ty: Type,
    /// Where the sub-expression starts in the text, for errors found while evaluating.
    pub(crate) pos: Pos,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Literal(Literal),
    /// A column by its resolved name.
    Column(String),
    Arith(ArithOp, Box<Node>, Box<Node>),
    Negate(Box<Node>),
    Compare(CmpOp, Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    IsNull {
        operand: Box<Node>,
        negated: bool,
    },
    InList {
        operand: Box<Node>,
        items: Vec<Node>,
        negated: bool,
    },
    Between {
        operand: Box<Node>,
        low: Box<Node>,
        high: Box<Node>,
        negated: bool,
    },
    Like {
        operand: Box<Node>,
        pattern: String,
        negated: bool,
    },
    /// Searched CASE (`operand` None: each `when` is a condition) or simple CASE (each
    /// `when` is compared with `operand` by `=`).
    Case {
        operand: Option<Box<Node>>,
        branches: Vec<(Node, Node)>,
        otherwise: Box<Node>,
    },
    Cast(Box<Node>, Target),
    Coalesce(Vec<Node>),
    Call(Function, Vec<Node>),
}

/// A constant; `Null` is the NULL of the node's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Number(f64),
    Text(String),
    Bool(bool),
    /// Microseconds since 1970-01-01 00:00:00.
    Timestamp(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

/// The type a CAST converts to; `Integer` and `BigInt` are numbers truncated toward zero
/// and NULL outside the SQL type's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Double,
    Integer,
    BigInt,
    Text,
    Bool,
}

impl Target {
    pub fn ty(self) -> Type {
        match self {
            Target::Double | Target::Integer | Target::BigInt => Type::Number,
            Target::Text => Type::Text,
            Target::Bool => Type::Bool,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Abs,
    Ln,
    Log1p,
    /// round(x, digits) with `digits` a literal; round(x) is `Round(0)`.
    Round(i32),
    Floor,
    Ceil,
    Sqrt,
    Lower,
    Upper,
    Length,
    StartsWith,
    Hour,
    Weekday,
    Date,
}
