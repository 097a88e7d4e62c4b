//! Vectorised evaluation: each node of the tree is one Arrow kernel call over whole arrays.
//! Literals stay one-row scalars (Arrow's `Datum`) until a kernel needs them as arrays.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Datum, Float64Array, RecordBatch, Scalar, StringArray,
    TimestampMicrosecondArray, UInt32Array, new_null_array,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::kernels::{boolean, cmp, comparison, numeric, zip::zip};
use arrow::compute::{prep_null_mask_filter, take};
use arrow::datatypes::Float64Type;
use arrow::error::ArrowError;

use crate::error::{ErrorKind, ExprError};
use crate::tree::{ArithOp, CmpOp, Kind, Literal, Node};
use crate::{Type, cast, functions};

/// The value of a sub-expression: an array of the batch's length, or a one-row array
/// standing for every row.
pub(crate) struct Val {
    pub array: ArrayRef,
    pub scalar: bool,
}

impl Datum for Val {
    fn get(&self) -> (&dyn Array, bool) {
        (self.array.as_ref(), self.scalar)
    }
}

impl Val {
    fn new(array: ArrayRef, scalar: bool) -> Val {
        Val { array, scalar }
    }

    fn bools(&self) -> &BooleanArray {
        self.array.as_boolean()
    }

    /// An array of `len` rows (a scalar repeated).
    fn broadcast(&self, len: usize) -> Result<ArrayRef, ArrowError> {
        if !self.scalar {
            return Ok(self.array.clone());
        }
        if self.array.is_null(0) {
            return Ok(new_null_array(self.array.data_type(), len));
        }
        take(&self.array, &UInt32Array::from_value(0, len), None)
    }
}

pub(crate) fn eval(root: &Node, batch: &RecordBatch) -> Result<ArrayRef, ExprError> {
    let value = value(root, batch)?;
    value
        .broadcast(batch.num_rows())
        .map_err(|e| failed(root, e))
}

pub(crate) fn mask(root: &Node, batch: &RecordBatch) -> Result<BooleanArray, ExprError> {
    if root.ty != Type::Bool {
        return Err(ExprError::new(
            ErrorKind::TypeMismatch,
            root.pos,
            format!(
                "a condition must be true or false, but this expression is {}",
                root.ty.name()
            ),
        ));
    }
    let values = eval(root, batch)?;
    Ok(true_rows(values.as_boolean()))
}

/// The TRUE rows of a boolean array as a mask without nulls (NULL is not TRUE). arrow's
/// `prep_null_mask_filter` expects an array that has a null buffer.
fn true_rows(b: &BooleanArray) -> BooleanArray {
    if b.nulls().is_some() {
        prep_null_mask_filter(b)
    } else {
        b.clone()
    }
}

/// An Arrow error while evaluating `node`: a kernel refused arrays the type checker let
/// through, so the message names the sub-expression's position.
fn failed(node: &Node, error: ArrowError) -> ExprError {
    ExprError::new(
        ErrorKind::Evaluation,
        node.pos,
        format!("evaluation failed: {error}"),
    )
}

fn value(node: &Node, batch: &RecordBatch) -> Result<Val, ExprError> {
    let fail = |e| failed(node, e);
    Ok(match &node.kind {
        Kind::Literal(literal) => Val::new(literal_array(literal, node.ty), true),
        Kind::Column(name) => column(node, name, batch)?,
        Kind::Arith(op, l, r) => {
            let (l, r) = (value(l, batch)?, value(r, batch)?);
            let kernel = match op {
                ArithOp::Add => numeric::add,
                ArithOp::Sub => numeric::sub,
                ArithOp::Mul => numeric::mul,
                ArithOp::Div => numeric::div,
                ArithOp::Rem => numeric::rem,
            };
            Val::new(finite(kernel(&l, &r).map_err(fail)?), l.scalar && r.scalar)
        }
        Kind::Negate(x) => {
            let x = value(x, batch)?;
            Val::new(finite(numeric::neg(&x.array).map_err(fail)?), x.scalar)
        }
        Kind::Compare(op, l, r) => {
            compare(*op, &value(l, batch)?, &value(r, batch)?).map_err(fail)?
        }
        Kind::And(l, r) => {
            kleene(boolean::and_kleene, &value(l, batch)?, &value(r, batch)?).map_err(fail)?
        }
        Kind::Or(l, r) => {
            kleene(boolean::or_kleene, &value(l, batch)?, &value(r, batch)?).map_err(fail)?
        }
        Kind::Not(x) => not(&value(x, batch)?).map_err(fail)?,
        Kind::IsNull { operand, negated } => {
            let x = value(operand, batch)?;
            let test = if *negated {
                boolean::is_not_null
            } else {
                boolean::is_null
            };
            Val::new(Arc::new(test(&x.array).map_err(fail)?), x.scalar)
        }
        Kind::InList {
            operand,
            items,
            negated,
        } => {
            let operand = value(operand, batch)?;
            let mut any: Option<Val> = None;
            for item in items {
                let equal = compare(CmpOp::Eq, &operand, &value(item, batch)?).map_err(fail)?;
                any = Some(match any {
                    None => equal,
                    Some(any) => kleene(boolean::or_kleene, &any, &equal).map_err(fail)?,
                });
            }
            let any = any.expect("the resolver refuses an empty IN list");
            if *negated {
                not(&any).map_err(fail)?
            } else {
                any
            }
        }
        Kind::Between {
            operand,
            low,
            high,
            negated,
        } => {
            let operand = value(operand, batch)?;
            let above = compare(CmpOp::GtEq, &operand, &value(low, batch)?).map_err(fail)?;
            let below = compare(CmpOp::LtEq, &operand, &value(high, batch)?).map_err(fail)?;
            let within = kleene(boolean::and_kleene, &above, &below).map_err(fail)?;
            if *negated {
                not(&within).map_err(fail)?
            } else {
                within
            }
        }
        Kind::Like {
            operand,
            pattern,
            negated,
        } => {
            let x = value(operand, batch)?;
            let pattern = Scalar::new(StringArray::from(vec![pattern.as_str()]));
            let kernel = if *negated {
                comparison::nlike
            } else {
                comparison::like
            };
            Val::new(Arc::new(kernel(&x, &pattern).map_err(fail)?), x.scalar)
        }
        Kind::Case {
            operand,
            branches,
            otherwise,
        } => case(node, operand.as_deref(), branches, otherwise, batch)?,
        Kind::Cast(x, target) => {
            let v = value(x, batch)?;
            Val::new(cast::eval(&v.array, x.ty, *target).map_err(fail)?, v.scalar)
        }
        Kind::Coalesce(args) => coalesce(node, args, batch)?,
        Kind::Call(function, args) => {
            let args = args
                .iter()
                .map(|a| value(a, batch))
                .collect::<Result<Vec<_>, _>>()?;
            let scalar = args.iter().all(|a| a.scalar);
            Val::new(functions::eval(*function, &args).map_err(fail)?, scalar)
        }
    })
}

fn literal_array(literal: &Literal, ty: Type) -> ArrayRef {
    match literal {
        Literal::Null => new_null_array(&ty.arrow(), 1),
        Literal::Number(x) => Arc::new(Float64Array::from(vec![*x])),
        Literal::Text(s) => Arc::new(StringArray::from(vec![s.as_str()])),
        Literal::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
        Literal::Timestamp(t) => Arc::new(TimestampMicrosecondArray::from(vec![*t])),
    }
}

fn column(node: &Node, name: &str, batch: &RecordBatch) -> Result<Val, ExprError> {
    let Some(array) = batch.column_by_name(name) else {
        return Err(ExprError::new(
            ErrorKind::Evaluation,
            node.pos,
            format!("the batch has no column `{name}`"),
        ));
    };
    let expected = node.ty.arrow();
    if *array.data_type() != expected {
        return Err(ExprError::new(
            ErrorKind::Evaluation,
            node.pos,
            format!(
                "column `{name}` is stored as {}, but the expression reads it as {} ({expected})",
                array.data_type(),
                node.ty.name()
            ),
        ));
    }
    let array = match node.ty {
        Type::Number => finite(array.clone()),
        _ => array.clone(),
    };
    Ok(Val::new(array, false))
}

/// Numbers are finite or NULL, and zero has one sign: a non-finite value (an overflow, a
/// division by zero, the logarithm of zero) becomes NULL and −0 becomes 0. Arrow's
/// comparison kernels order floats totally (−0 < 0, NaN = NaN); with these two rules they
/// agree with SQL's `=` and `<`.
pub(crate) fn finite(array: ArrayRef) -> ArrayRef {
    let numbers = array.as_primitive::<Float64Type>();
    let values = numbers.values();
    let clean = |v: f64| v.is_finite() && !(v == 0.0 && v.is_sign_negative());
    if values.iter().all(|v| clean(*v)) {
        return array;
    }
    let finite = BooleanBuffer::collect_bool(values.len(), |i| values[i].is_finite());
    let nulls = NullBuffer::union(numbers.nulls(), Some(&NullBuffer::new(finite)));
    // Adding +0 turns −0 into +0 and leaves every other value as it is.
    let values = values.iter().map(|v| v + 0.0).collect();
    Arc::new(Float64Array::new(values, nulls))
}

fn compare(op: CmpOp, l: &Val, r: &Val) -> Result<Val, ArrowError> {
    let kernel = match op {
        CmpOp::Eq => cmp::eq,
        CmpOp::NotEq => cmp::neq,
        CmpOp::Lt => cmp::lt,
        CmpOp::LtEq => cmp::lt_eq,
        CmpOp::Gt => cmp::gt,
        CmpOp::GtEq => cmp::gt_eq,
    };
    kernel(l, r).map(|a| Val::new(Arc::new(a), l.scalar && r.scalar))
}

/// AND or OR with SQL's three-valued logic; the kernels need arrays of one length, so a
/// scalar side is repeated unless both are scalars.
fn kleene(
    kernel: fn(&BooleanArray, &BooleanArray) -> Result<BooleanArray, ArrowError>,
    l: &Val,
    r: &Val,
) -> Result<Val, ArrowError> {
    if l.scalar == r.scalar {
        return kernel(l.bools(), r.bools()).map(|a| Val::new(Arc::new(a), l.scalar));
    }
    let len = if l.scalar {
        r.array.len()
    } else {
        l.array.len()
    };
    let (l, r) = (l.broadcast(len)?, r.broadcast(len)?);
    kernel(l.as_boolean(), r.as_boolean()).map(|a| Val::new(Arc::new(a), false))
}

fn not(x: &Val) -> Result<Val, ArrowError> {
    boolean::not(x.bools()).map(|a| Val::new(Arc::new(a), x.scalar))
}

/// Whether a scalar condition is TRUE (NULL is not).
fn is_true(condition: &Val) -> bool {
    condition.array.is_valid(0) && condition.bools().value(0)
}

/// The first branch whose condition is TRUE, else `otherwise`: built from the last branch
/// back, each branch's rows chosen over what follows it.
fn case(
    node: &Node,
    operand: Option<&Node>,
    branches: &[(Node, Node)],
    otherwise: &Node,
    batch: &RecordBatch,
) -> Result<Val, ExprError> {
    let fail = |e| failed(node, e);
    let operand = operand.map(|o| value(o, batch)).transpose()?;
    let mut result = value(otherwise, batch)?;
    for (when, then) in branches.iter().rev() {
        let when = value(when, batch)?;
        let condition = match &operand {
            Some(operand) => compare(CmpOp::Eq, operand, &when).map_err(fail)?,
            None => when,
        };
        let then = value(then, batch)?;
        result = if condition.scalar {
            if is_true(&condition) { then } else { result }
        } else {
            let mask = true_rows(condition.bools());
            Val::new(zip(&mask, &then, &result).map_err(fail)?, false)
        };
    }
    Ok(result)
}

/// The first non-NULL argument, built from the last back like `case`.
fn coalesce(node: &Node, args: &[Node], batch: &RecordBatch) -> Result<Val, ExprError> {
    let fail = |e| failed(node, e);
    let (last, rest) = args.split_last().expect("the resolver refuses COALESCE()");
    let mut result = value(last, batch)?;
    for arg in rest.iter().rev() {
        let v = value(arg, batch)?;
        result = if v.scalar {
            if v.array.is_valid(0) { v } else { result }
        } else {
            let present = boolean::is_not_null(&v.array).map_err(fail)?;
            Val::new(zip(&present, &v, &result).map_err(fail)?, false)
        };
    }
    Ok(result)
}
