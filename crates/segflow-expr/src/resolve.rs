//! sqlparser's AST → the typed tree: columns resolved, every operand's type checked, the
//! constructs outside the language refused with their position.

use sqlparser::ast::{
    self, BinaryOperator, CastKind, CeilFloorKind, DataType, DateTimeField, ExactNumberInfo,
    Expr as Ast, InTarget, Spanned, UnaryOperator, Value,
};

use crate::Type;
use crate::error::{ErrorKind, ExprError, Pos};
use crate::functions;
use crate::names::{self, Resolution};
use crate::timestamp;
use crate::tree::{ArithOp, CmpOp, Function, Kind, Literal, Node, Target};

/// Deeper trees are refused before the resolver's recursion could exhaust the stack (a
/// chain of 256 ANDs or ORs is accepted).
const MAX_DEPTH: usize = 256;

/// The resolved root and the columns it reads (first appearance, no repeats).
pub(crate) fn resolve<S: AsRef<str>>(
    ast: &Ast,
    columns: &[(S, Type)],
) -> Result<(Node, Vec<String>), ExprError> {
    run(
        Resolver {
            columns,
            other: None,
            used: Vec::new(),
        },
        ast,
    )
}

/// As [`resolve`], reading a name that is none of `columns` as a column of type `other`.
pub(crate) fn resolve_open<S: AsRef<str>>(
    ast: &Ast,
    columns: &[(S, Type)],
    other: Type,
) -> Result<(Node, Vec<String>), ExprError> {
    run(
        Resolver {
            columns,
            other: Some(other),
            used: Vec::new(),
        },
        ast,
    )
}

fn run<S: AsRef<str>>(
    mut resolver: Resolver<'_, S>,
    ast: &Ast,
) -> Result<(Node, Vec<String>), ExprError> {
    match resolver.expr(ast, Pos::START, 0)? {
        Resolved::Typed(node) => Ok((node, resolver.used)),
        Resolved::Null(pos) => Err(ExprError::new(
            ErrorKind::TypeMismatch,
            pos,
            "the expression is always NULL and so has no type; give it one, e.g. CAST(NULL AS DOUBLE)",
        )),
    }
}

/// A sub-expression, or a NULL whose type comes from where it is used (a NULL literal, or
/// a CASE or COALESCE of nothing but NULLs).
enum Resolved {
    Typed(Node),
    Null(Pos),
}

impl Resolved {
    fn ty(&self) -> Option<Type> {
        match self {
            Resolved::Typed(node) => Some(node.ty),
            Resolved::Null(_) => None,
        }
    }
}

fn node(kind: Kind, ty: Type, pos: Pos) -> Resolved {
    Resolved::Typed(Node { kind, ty, pos })
}

fn mismatch(pos: Pos, message: String) -> ExprError {
    ExprError::new(ErrorKind::TypeMismatch, pos, message)
}

fn unsupported(pos: Pos, message: impl Into<String>) -> ExprError {
    ExprError::new(ErrorKind::Unsupported, pos, message)
}

/// An AST as SQL text for a message, shortened when long.
fn quote(ast: &impl std::fmt::Display) -> String {
    let text = ast.to_string();
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("`{}…`", &text[..end]),
        None => format!("`{text}`"),
    }
}

/// "a number", "text", … for messages.
fn article(ty: Type) -> &'static str {
    match ty {
        Type::Number => "a number",
        Type::Text => "text",
        Type::Bool => "a boolean",
        Type::Timestamp => "a timestamp",
    }
}

struct Resolver<'a, S> {
    columns: &'a [(S, Type)],
    /// The type of a name that is none of `columns`, when such names are columns too.
    other: Option<Type>,
    used: Vec<String>,
}

impl<S: AsRef<str>> Resolver<'_, S> {
    fn expr(&mut self, ast: &Ast, parent: Pos, depth: usize) -> Result<Resolved, ExprError> {
        let pos = Pos::of(ast.span(), parent);
        if depth > MAX_DEPTH {
            return Err(unsupported(
                pos,
                format!("the expression nests more than {MAX_DEPTH} levels deep"),
            ));
        }
        let depth = depth + 1;
        match ast {
            Ast::Nested(inner) => self.expr(inner, pos, depth),
            Ast::Value(value) => literal(&value.value, pos),
            Ast::Identifier(ident) => self.column(&ident.value, pos),
            Ast::BinaryOp { left, op, right } => self.binary(left, op, right, pos, depth),
            Ast::UnaryOp { op, expr } => self.unary(*op, expr, pos, depth),
            Ast::IsNull(operand) | Ast::IsNotNull(operand) => {
                let operand = match self.expr(operand, pos, depth)? {
                    Resolved::Typed(node) => node,
                    Resolved::Null(pos) => null(Type::Number, pos),
                };
                let negated = matches!(ast, Ast::IsNotNull(_));
                Ok(node(
                    Kind::IsNull {
                        operand: Box::new(operand),
                        negated,
                    },
                    Type::Bool,
                    pos,
                ))
            }
            Ast::In {
                expr,
                target: InTarget::List(items),
                negated,
                global: false,
            } => {
                if items.is_empty() {
                    return Err(mismatch(pos, "IN needs at least one value".to_string()));
                }
                let mut all = vec![(self.expr(expr, pos, depth)?, expr.as_ref())];
                for item in items {
                    all.push((self.expr(item, pos, depth)?, item));
                }
                let mut nodes = comparable(all, "IN")?.into_iter();
                let operand = nodes.next().expect("IN has its operand first");
                Ok(node(
                    Kind::InList {
                        operand: Box::new(operand),
                        items: nodes.collect(),
                        negated: *negated,
                    },
                    Type::Bool,
                    pos,
                ))
            }
            Ast::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let all = vec![
                    (self.expr(expr, pos, depth)?, expr.as_ref()),
                    (self.expr(low, pos, depth)?, low.as_ref()),
                    (self.expr(high, pos, depth)?, high.as_ref()),
                ];
                let [operand, low, high]: [Node; 3] = comparable(all, "BETWEEN")?
                    .try_into()
                    .expect("BETWEEN has three operands");
                Ok(node(
                    Kind::Between {
                        operand: Box::new(operand),
                        low: Box::new(low),
                        high: Box::new(high),
                        negated: *negated,
                    },
                    Type::Bool,
                    pos,
                ))
            }
            Ast::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => self.like(*negated, expr, pattern, pos, depth),
            Ast::Like {
                escape_char: Some(_),
                ..
            } => Err(unsupported(
                pos,
                "LIKE … ESCAPE is not supported: in a pattern, `\\` always escapes the next character",
            )),
            Ast::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(
                operand.as_deref(),
                conditions,
                else_result.as_deref(),
                pos,
                depth,
            ),
            Ast::Cast {
                kind: CastKind::Cast | CastKind::DoubleColon,
                expr,
                data_type,
                format: None,
            } => self.cast(expr, data_type, pos, depth),
            Ast::Cast {
                kind: CastKind::TryCast | CastKind::SafeCast,
                ..
            } => Err(unsupported(
                pos,
                "TRY_CAST and SAFE_CAST are not needed: CAST of text that is not a number already gives NULL",
            )),
            Ast::Function(function) => self.function(function, pos, depth),
            Ast::Floor {
                expr,
                field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
            } => self.call(Function::Floor, "floor", &[expr], pos, depth),
            Ast::Ceil {
                expr,
                field: CeilFloorKind::DateTimeField(DateTimeField::NoDateTime),
            } => self.call(Function::Ceil, "ceil", &[expr], pos, depth),
            Ast::Floor {
                field: CeilFloorKind::Scale(_),
                ..
            } => Err(arity("floor", 2, 1, 1, pos).expect_err("2 is not 1")),
            Ast::Ceil {
                field: CeilFloorKind::Scale(_),
                ..
            } => Err(arity("ceil", 2, 1, 1, pos).expect_err("2 is not 1")),
            other => Err(unsupported(pos, refusal(other))),
        }
    }

    fn column(&mut self, name: &str, pos: Pos) -> Result<Resolved, ExprError> {
        match names::resolve(name, self.columns) {
            Resolution::Found(column, ty) => {
                if !self.used.iter().any(|u| u == column) {
                    self.used.push(column.to_string());
                }
                Ok(node(Kind::Column(column.to_string()), ty, pos))
            }
            Resolution::Ambiguous(matches) => Err(ExprError::new(
                ErrorKind::UnknownColumn,
                pos,
                format!(
                    "`{name}` matches the columns {} ignoring case; write one of them exactly, in double quotes",
                    matches
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Resolution::Unknown { suggestion } => match self.other {
                Some(ty) => {
                    if !self.used.iter().any(|u| u == name) {
                        self.used.push(name.to_string());
                    }
                    Ok(node(Kind::Column(name.to_string()), ty, pos))
                }
                None => Err(ExprError::new(
                    ErrorKind::UnknownColumn,
                    pos,
                    match suggestion {
                        Some(s) => format!("unknown column `{name}` (did you mean `{s}`?)"),
                        None => format!("unknown column `{name}`"),
                    },
                )),
            },
        }
    }

    fn binary(
        &mut self,
        left: &Ast,
        op: &BinaryOperator,
        right: &Ast,
        pos: Pos,
        depth: usize,
    ) -> Result<Resolved, ExprError> {
        let arith = match op {
            BinaryOperator::Plus => Some(ArithOp::Add),
            BinaryOperator::Minus => Some(ArithOp::Sub),
            BinaryOperator::Multiply => Some(ArithOp::Mul),
            BinaryOperator::Divide => Some(ArithOp::Div),
            BinaryOperator::Modulo => Some(ArithOp::Rem),
            _ => None,
        };
        let compare = match op {
            BinaryOperator::Eq => Some(CmpOp::Eq),
            BinaryOperator::NotEq => Some(CmpOp::NotEq),
            BinaryOperator::Lt => Some(CmpOp::Lt),
            BinaryOperator::LtEq => Some(CmpOp::LtEq),
            BinaryOperator::Gt => Some(CmpOp::Gt),
            BinaryOperator::GtEq => Some(CmpOp::GtEq),
            _ => None,
        };
        let logic = matches!(op, BinaryOperator::And | BinaryOperator::Or);
        if arith.is_none() && compare.is_none() && !logic {
            return Err(unsupported(
                pos,
                format!("the operator `{op}` is not supported"),
            ));
        }
        let l = self.expr(left, pos, depth)?;
        let r = self.expr(right, pos, depth)?;
        let context = format!("`{op}`");
        if let Some(arith) = arith {
            let l = expect(l, Type::Number, &context, left)?;
            let r = expect(r, Type::Number, &context, right)?;
            return Ok(node(
                Kind::Arith(arith, Box::new(l), Box::new(r)),
                Type::Number,
                pos,
            ));
        }
        if let Some(compare) = compare {
            let [l, r]: [Node; 2] = comparable(vec![(l, left), (r, right)], &context)?
                .try_into()
                .expect("a comparison has two operands");
            return Ok(node(
                Kind::Compare(compare, Box::new(l), Box::new(r)),
                Type::Bool,
                pos,
            ));
        }
        let l = Box::new(expect(l, Type::Bool, &context, left)?);
        let r = Box::new(expect(r, Type::Bool, &context, right)?);
        let kind = match op {
            BinaryOperator::And => Kind::And(l, r),
            _ => Kind::Or(l, r),
        };
        Ok(node(kind, Type::Bool, pos))
    }

    fn unary(
        &mut self,
        op: UnaryOperator,
        operand: &Ast,
        pos: Pos,
        depth: usize,
    ) -> Result<Resolved, ExprError> {
        let resolved = self.expr(operand, pos, depth)?;
        let context = format!("`{op}`");
        match op {
            UnaryOperator::Minus => {
                let operand = expect(resolved, Type::Number, &context, operand)?;
                Ok(node(Kind::Negate(Box::new(operand)), Type::Number, pos))
            }
            UnaryOperator::Plus => {
                expect(resolved, Type::Number, &context, operand).map(Resolved::Typed)
            }
            UnaryOperator::Not => {
                let operand = expect(resolved, Type::Bool, "NOT", operand)?;
                Ok(node(Kind::Not(Box::new(operand)), Type::Bool, pos))
            }
            _ => Err(unsupported(
                pos,
                format!("the operator `{op}` is not supported"),
            )),
        }
    }

    fn like(
        &mut self,
        negated: bool,
        operand: &Ast,
        pattern: &Ast,
        pos: Pos,
        depth: usize,
    ) -> Result<Resolved, ExprError> {
        let resolved = self.expr(operand, pos, depth)?;
        let operand = expect(resolved, Type::Text, "LIKE", operand)?;
        let pattern_pos = Pos::of(pattern.span(), pos);
        let pattern = match pattern {
            Ast::Value(v) => match &v.value {
                Value::SingleQuotedString(p) => p.clone(),
                _ => return Err(unsupported(pattern_pos, "LIKE needs a '…' text pattern")),
            },
            _ => return Err(unsupported(pattern_pos, "LIKE needs a '…' text pattern")),
        };
        let trailing = pattern.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            return Err(ExprError::new(
                ErrorKind::Syntax,
                pattern_pos,
                "the LIKE pattern ends with `\\`, which escapes nothing (write `\\\\` for a backslash)",
            ));
        }
        Ok(node(
            Kind::Like {
                operand: Box::new(operand),
                pattern,
                negated,
            },
            Type::Bool,
            pos,
        ))
    }

    fn case(
        &mut self,
        operand: Option<&Ast>,
        conditions: &[ast::CaseWhen],
        otherwise: Option<&Ast>,
        pos: Pos,
        depth: usize,
    ) -> Result<Resolved, ExprError> {
        let (operand, whens) = match operand {
            Some(operand) => {
                let mut all = vec![(self.expr(operand, pos, depth)?, operand)];
                for when in conditions {
                    all.push((self.expr(&when.condition, pos, depth)?, &when.condition));
                }
                let mut nodes = comparable(all, "CASE … WHEN")?.into_iter();
                let operand = nodes.next().expect("a simple CASE has its operand first");
                (Some(Box::new(operand)), nodes.collect::<Vec<_>>())
            }
            None => {
                let mut whens = Vec::with_capacity(conditions.len());
                for when in conditions {
                    let resolved = self.expr(&when.condition, pos, depth)?;
                    whens.push(expect(resolved, Type::Bool, "WHEN", &when.condition)?);
                }
                (None, whens)
            }
        };
        let mut results = Vec::with_capacity(conditions.len() + 1);
        for when in conditions {
            results.push((self.expr(&when.result, pos, depth)?, &when.result));
        }
        if let Some(otherwise) = otherwise {
            results.push((self.expr(otherwise, pos, depth)?, otherwise));
        }
        let Some(ty) = one_type(&results, "the branches of CASE")? else {
            return Ok(Resolved::Null(pos));
        };
        let mut results = results
            .into_iter()
            .map(|(r, _)| typed(r, ty))
            .collect::<Vec<_>>();
        let otherwise = match otherwise {
            Some(_) => results.pop().expect("ELSE was pushed last"),
            None => null(ty, pos),
        };
        Ok(node(
            Kind::Case {
                operand,
                branches: whens.into_iter().zip(results).collect(),
                otherwise: Box::new(otherwise),
            },
            ty,
            pos,
        ))
    }

    fn cast(
        &mut self,
        operand: &Ast,
        data_type: &DataType,
        pos: Pos,
        depth: usize,
    ) -> Result<Resolved, ExprError> {
        let target = match data_type {
            DataType::Double(ExactNumberInfo::None)
            | DataType::DoublePrecision
            | DataType::Numeric(ExactNumberInfo::None) => Target::Double,
            DataType::Integer(None) | DataType::Int(None) => Target::Integer,
            DataType::BigInt(None) => Target::BigInt,
            DataType::Varchar(None) | DataType::Text | DataType::String(None) => Target::Text,
            DataType::Boolean | DataType::Bool => Target::Bool,
            other => {
                return Err(unsupported(
                    pos,
                    format!(
                        "CAST to {other} is not supported; the types are DOUBLE, NUMERIC, INTEGER, BIGINT, VARCHAR, TEXT, STRING and BOOLEAN, without lengths or precisions"
                    ),
                ));
            }
        };
        let operand = match self.expr(operand, pos, depth)? {
            Resolved::Typed(node) => node,
            Resolved::Null(_) => return Ok(Resolved::Typed(null(target.ty(), pos))),
        };
        if operand.ty == Type::Timestamp && target != Target::Text {
            return Err(mismatch(
                operand.pos,
                format!("a timestamp cannot be cast to {data_type}, only to text"),
            ));
        }
        Ok(node(
            Kind::Cast(Box::new(operand), target),
            target.ty(),
            pos,
        ))
    }

    fn function(
        &mut self,
        function: &ast::Function,
        pos: Pos,
        depth: usize,
    ) -> Result<Resolved, ExprError> {
        let name = match function.name.0.as_slice() {
            [part] => match part.as_ident() {
                Some(ident) => ident.value.to_lowercase(),
                None => {
                    return Err(unsupported(
                        pos,
                        format!("`{}` is not supported", function.name),
                    ));
                }
            },
            _ => {
                return Err(unsupported(
                    pos,
                    format!(
                        "qualified function names such as `{}` are not supported",
                        function.name
                    ),
                ));
            }
        };
        if functions::is_aggregate(&name) {
            return Err(unsupported(
                pos,
                format!(
                    "`{name}` is an aggregate function; a row expression computes one value per row from that row alone"
                ),
            ));
        }
        if function.over.is_some() {
            return Err(unsupported(
                pos,
                format!("window functions (`{name}(…) OVER …`) are not supported"),
            ));
        }
        let plain = !function.uses_odbc_syntax
            && matches!(function.parameters, ast::FunctionArguments::None)
            && function.within_group.is_empty()
            && function.filter.is_none()
            && function.null_treatment.is_none();
        let args = match &function.args {
            ast::FunctionArguments::List(list)
                if plain && list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
            {
                list.args
                    .iter()
                    .map(|arg| match arg {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            }
            _ => None,
        };
        let Some(args) = args else {
            return Err(unsupported(
                pos,
                format!(
                    "`{}` is not supported: functions take plain arguments in parentheses",
                    quote(function).trim_matches('`')
                ),
            ));
        };
        if name == "coalesce" {
            return self.coalesce(&args, pos, depth);
        }
        if name == "round" {
            return self.round(&args, pos, depth);
        }
        match functions::by_name(&name) {
            Some(f) => self.call(f, &name, &args, pos, depth),
            None => Err(unsupported(
                pos,
                match names::closest(&name, functions::NAMES.iter().copied()) {
                    Some(s) => format!("unknown function `{name}` (did you mean `{s}`?)"),
                    None => format!(
                        "unknown function `{name}`; the functions are {}",
                        functions::NAMES.join(", ")
                    ),
                },
            )),
        }
    }

    /// A function of fixed argument types (all but coalesce and round).
    fn call(
        &mut self,
        function: Function,
        name: &str,
        args: &[&Ast],
        pos: Pos,
        depth: usize,
    ) -> Result<Resolved, ExprError> {
        let (params, result) = functions::signature(function);
        arity(name, args.len(), params.len(), params.len(), pos)?;
        let mut nodes = Vec::with_capacity(args.len());
        for (arg, ty) in args.iter().zip(params) {
            let resolved = self.expr(arg, pos, depth)?;
            nodes.push(expect(resolved, *ty, &format!("`{name}`"), arg)?);
        }
        Ok(node(Kind::Call(function, nodes), result, pos))
    }

    /// round(x) or round(x, digits), digits an integer literal.
    fn round(&mut self, args: &[&Ast], pos: Pos, depth: usize) -> Result<Resolved, ExprError> {
        arity("round", args.len(), 1, 2, pos)?;
        let digits = match args.get(1) {
            None => 0,
            Some(arg) => match integer_literal(arg) {
                Some(d) if d.abs() <= functions::MAX_ROUND_DIGITS => d,
                _ => {
                    return Err(mismatch(
                        Pos::of(arg.span(), pos),
                        format!(
                            "round's digits must be a whole number from -{0} to {0}, written as a literal",
                            functions::MAX_ROUND_DIGITS
                        ),
                    ));
                }
            },
        };
        let resolved = self.expr(args[0], pos, depth)?;
        let x = expect(resolved, Type::Number, "`round`", args[0])?;
        Ok(node(
            Kind::Call(Function::Round(digits), vec![x]),
            Type::Number,
            pos,
        ))
    }

    fn coalesce(&mut self, args: &[&Ast], pos: Pos, depth: usize) -> Result<Resolved, ExprError> {
        arity("coalesce", args.len(), 1, usize::MAX, pos)?;
        let mut all = Vec::with_capacity(args.len());
        for arg in args {
            all.push((self.expr(arg, pos, depth)?, *arg));
        }
        let Some(ty) = one_type(&all, "the arguments of COALESCE")? else {
            return Ok(Resolved::Null(pos));
        };
        let nodes = all.into_iter().map(|(r, _)| typed(r, ty)).collect();
        Ok(node(Kind::Coalesce(nodes), ty, pos))
    }
}

fn arity(name: &str, given: usize, min: usize, max: usize, pos: Pos) -> Result<(), ExprError> {
    if (min..=max).contains(&given) {
        return Ok(());
    }
    let expected = match (min, max) {
        (1, 1) => "1 argument".to_string(),
        (min, max) if min == max => format!("{min} arguments"),
        (min, usize::MAX) => format!("at least {min} argument{}", if min == 1 { "" } else { "s" }),
        (min, max) => format!("{min} to {max} arguments"),
    };
    Err(mismatch(
        pos,
        format!(
            "`{name}` takes {expected}, but {given} {} given",
            if given == 1 { "is" } else { "are" }
        ),
    ))
}

fn literal(value: &Value, pos: Pos) -> Result<Resolved, ExprError> {
    let literal = match value {
        Value::Number(text, _) => match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Literal::Number(x + 0.0),
            _ => {
                return Err(ExprError::new(
                    ErrorKind::Syntax,
                    pos,
                    format!("`{text}` is not a number within the range of a double"),
                ));
            }
        },
        Value::SingleQuotedString(text) => Literal::Text(text.clone()),
        Value::Boolean(b) => Literal::Bool(*b),
        Value::Null => return Ok(Resolved::Null(pos)),
        other => {
            return Err(unsupported(
                pos,
                format!(
                    "the literal {} is not supported; literals are numbers, '…' text, TRUE, FALSE and NULL",
                    quote(other)
                ),
            ));
        }
    };
    let ty = match literal {
        Literal::Number(_) => Type::Number,
        Literal::Text(_) => Type::Text,
        Literal::Bool(_) => Type::Bool,
        Literal::Null | Literal::Timestamp(_) => unreachable!("not written as literals"),
    };
    Ok(node(Kind::Literal(literal), ty, pos))
}

/// A whole number written as a literal, possibly negated or in parentheses.
fn integer_literal(ast: &Ast) -> Option<i32> {
    match ast {
        Ast::Value(v) => match &v.value {
            Value::Number(text, _) => text.parse().ok(),
            _ => None,
        },
        Ast::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => integer_literal(expr)?.checked_neg(),
        Ast::Nested(inner) => integer_literal(inner),
        _ => None,
    }
}

fn null(ty: Type, pos: Pos) -> Node {
    Node {
        kind: Kind::Literal(Literal::Null),
        ty,
        pos,
    }
}

fn typed(resolved: Resolved, ty: Type) -> Node {
    match resolved {
        Resolved::Typed(node) => node,
        Resolved::Null(pos) => null(ty, pos),
    }
}

/// `resolved` as a `ty` operand of `context`.
fn expect(resolved: Resolved, ty: Type, context: &str, ast: &Ast) -> Result<Node, ExprError> {
    match resolved {
        Resolved::Typed(node) if node.ty != ty => Err(mismatch(
            node.pos,
            format!(
                "{context} needs {}, but {} is {}",
                article(ty),
                quote(ast),
                article(node.ty)
            ),
        )),
        resolved => Ok(typed(resolved, ty)),
    }
}

/// The one type of values that are compared with each other (the operands of `=`, of IN,
/// of BETWEEN, of a simple CASE). A text literal compared with a timestamp is read as one,
/// so `ts >= '2024-01-01'` works; NULLs take the others' type.
fn comparable(all: Vec<(Resolved, &Ast)>, context: &str) -> Result<Vec<Node>, ExprError> {
    let types = all.iter().filter_map(|(r, _)| r.ty());
    let target = if types.clone().any(|t| t == Type::Timestamp) {
        Type::Timestamp
    } else {
        types.clone().next().unwrap_or(Type::Number)
    };
    let first = all
        .iter()
        .find(|(r, _)| r.ty() == Some(target))
        .map(|(_, ast)| quote(ast));
    all.into_iter()
        .map(|(resolved, ast)| match resolved {
            Resolved::Typed(Node {
                kind: Kind::Literal(Literal::Text(text)),
                pos,
                ..
            }) if target == Type::Timestamp => match timestamp::parse_literal(&text) {
                Some(micros) => Ok(Node {
                    kind: Kind::Literal(Literal::Timestamp(micros)),
                    ty: Type::Timestamp,
                    pos,
                }),
                None => Err(mismatch(
                    pos,
                    format!(
                        "'{text}' is compared with a timestamp but is not one; write 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'"
                    ),
                )),
            },
            Resolved::Typed(node) if node.ty != target => Err(mismatch(
                node.pos,
                format!(
                    "{context} compares values of one type, but {} is {} and {} is {}",
                    quote(ast),
                    article(node.ty),
                    first.as_deref().unwrap_or("the first"),
                    article(target)
                ),
            )),
            resolved => Ok(typed(resolved, target)),
        })
        .collect()
}

/// The one type of values that stand in for each other (CASE branches, COALESCE
/// arguments); None when all are NULL.
fn one_type(all: &[(Resolved, &Ast)], context: &str) -> Result<Option<Type>, ExprError> {
    let Some((first, first_ast)) = all.iter().find_map(|(r, ast)| r.ty().map(|t| (t, ast))) else {
        return Ok(None);
    };
    for (resolved, ast) in all {
        if let Resolved::Typed(node) = resolved
            && node.ty != first
        {
            return Err(mismatch(
                node.pos,
                format!(
                    "{context} must have one type, but {} is {} and {} is {}",
                    quote(first_ast),
                    article(first),
                    quote(ast),
                    article(node.ty)
                ),
            ));
        }
    }
    Ok(Some(first))
}

/// Why a construct sqlparser accepts is not part of the language.
fn refusal(ast: &Ast) -> String {
    let what = match ast {
        Ast::Subquery(_) | Ast::Exists { .. } | Ast::In { .. } => {
            "subqueries are not supported: an expression reads only its own row"
        }
        Ast::CompoundIdentifier(_) => {
            "qualified names such as `t.column` are not supported; write the column's name (in double quotes if it contains a dot)"
        }
        Ast::Like { any: true, .. } => "LIKE ANY is not supported",
        Ast::ILike { .. } => "ILIKE is not supported; compare lower(x) LIKE '…' instead",
        Ast::SimilarTo { .. } | Ast::RLike { .. } => {
            "regular expressions are not supported; use LIKE with % and _"
        }
        Ast::Extract { .. } => "EXTRACT is not supported; use hour(ts), weekday(ts) or date(ts)",
        Ast::TypedString(_) => {
            "typed literals such as TIMESTAMP '…' are not supported; compare a timestamp with plain text 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS'"
        }
        Ast::IsTrue(_)
        | Ast::IsFalse(_)
        | Ast::IsNotTrue(_)
        | Ast::IsNotFalse(_)
        | Ast::IsUnknown(_)
        | Ast::IsNotUnknown(_) => {
            "IS TRUE, IS FALSE and IS UNKNOWN are not supported; use IS NULL, NOT and COALESCE"
        }
        Ast::IsDistinctFrom(..) | Ast::IsNotDistinctFrom(..) => {
            "IS DISTINCT FROM is not supported; use = together with IS NULL"
        }
        Ast::Wildcard(_) | Ast::QualifiedWildcard(..) => "`*` is not supported in an expression",
        Ast::Interval(_) => "INTERVAL is not supported",
        _ => "",
    };
    if what.is_empty() {
        format!("{} is not supported in a row expression", quote(ast))
    } else {
        what.to_string()
    }
}
