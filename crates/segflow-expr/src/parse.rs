//! Expression text → sqlparser's AST, with syntax errors placed in the text.

use sqlparser::ast;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::error::{ErrorKind, ExprError, Pos};

/// Most operators, names and parentheses accepted. sqlparser limits the nesting of
/// parentheses and calls, but builds a chain such as `a + a + … + a` as a left-deep tree of
/// any depth, and walking (or dropping) a tree thousands of levels deep overflows the stack.
/// Literals and commas do not count, so long IN lists are fine.
const MAX_TOKENS: usize = 1000;

pub(crate) fn parse(text: &str) -> Result<ast::Expr, ExprError> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| {
            let pos = Pos::at(e.location).unwrap_or_else(|| end_of(text));
            syntax(pos, &e.message)
        })?;
    if tokens
        .iter()
        .all(|t| matches!(t.token, Token::Whitespace(_) | Token::EOF))
    {
        return Err(syntax(Pos::START, "the expression is empty"));
    }
    let counted = tokens
        .iter()
        .filter(|t| {
            !matches!(
                t.token,
                Token::Whitespace(_)
                    | Token::EOF
                    | Token::Comma
                    | Token::Number(..)
                    | Token::SingleQuotedString(_)
            )
        })
        .count();
    if counted > MAX_TOKENS {
        return Err(ExprError::new(
            ErrorKind::Unsupported,
            Pos::START,
            format!(
                "the expression is too long: more than {MAX_TOKENS} operators, names and parentheses (split it, or test a long list with IN)"
            ),
        ));
    }
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let expr = parser.parse_expr().map_err(|e| parser_error(e, text))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        let pos = Pos::at(next.span.start).unwrap_or_else(|| end_of(text));
        return Err(syntax(
            pos,
            format!(
                "unexpected `{}` after a complete expression (join conditions with AND or OR)",
                next.token
            ),
        ));
    }
    Ok(expr)
}

/// sqlparser's parser errors carry their position only inside the message, as
/// " at Line: L, Column: C"; without one the parser stopped at the end of the text.
fn parser_error(error: ParserError, text: &str) -> ExprError {
    let message = match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => {
            return ExprError::new(
                ErrorKind::Unsupported,
                Pos::START,
                "the expression nests parentheses or operators too deeply",
            );
        }
    };
    match message.rsplit_once(" at Line: ") {
        Some((what, at)) => {
            let location = at.split_once(", Column: ").and_then(|(line, column)| {
                Some(Location::new(line.parse().ok()?, column.parse().ok()?))
            });
            let pos = location.and_then(Pos::at).unwrap_or_else(|| end_of(text));
            syntax(pos, what)
        }
        None => syntax(end_of(text), &message),
    }
}

fn syntax(pos: Pos, message: impl AsRef<str>) -> ExprError {
    let message = message.as_ref();
    let message = message
        .strip_prefix("sql parser error: ")
        .unwrap_or(message);
    ExprError::new(
        ErrorKind::Syntax,
        pos,
        message.replace("found: EOF", "found the end of the text"),
    )
}

/// The position just after the last character.
fn end_of(text: &str) -> Pos {
    let text = text.trim_end();
    let line = text.lines().count().max(1);
    let last = text.lines().last().unwrap_or("");
    Pos {
        line: line as u64,
        column: last.chars().count() as u64 + 1,
    }
}
