//! The SQL engines segflow writes queries for.

use std::fmt;
use std::str::FromStr;

use segflow_core::Error;

/// A SQL dialect: each renders the same definitions with its own functions, and refuses a
/// construct it has no exact equivalent for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Spark,
    Duckdb,
    Postgres,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Spark, Dialect::Duckdb, Dialect::Postgres];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::Duckdb => "duckdb",
            Dialect::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dialect {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown SQL dialect `{s}` (known: spark, duckdb, postgres)"
                ))
            })
    }
}
