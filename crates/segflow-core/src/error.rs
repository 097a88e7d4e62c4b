//! Typed errors, each mapped to a sysexits exit code so orchestrators can tell bad data from
//! bad configuration from a broken disk.

use std::fmt;
use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in an input a data problem was found. Every part is optional because not every
/// format has lines (Parquet has rows) and not every problem belongs to one column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    pub file: Option<String>,
    pub line: Option<u64>,
    pub row: Option<u64>,
    pub column: Option<String>,
}

impl Location {
    pub fn file(path: impl AsRef<Path>) -> Self {
        Self {
            file: Some(path.as_ref().display().to_string()),
            ..Self::default()
        }
    }

    pub fn line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub fn row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(file) = &self.file {
            parts.push(file.clone());
        }
        if let Some(line) = self.line {
            parts.push(format!("line {line}"));
        }
        if let Some(row) = self.row {
            parts.push(format!("row {row}"));
        }
        if let Some(column) = &self.column {
            parts.push(format!("column `{column}`"));
        }
        f.write_str(&parts.join(", "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line itself is wrong.
    #[error("usage error: {0}")]
    Usage(String),
    /// The input exists but its content is not acceptable.
    #[error("bad data in {location}: {message}")]
    Data { location: Location, message: String },
    /// A required input file does not exist or cannot be opened.
    #[error("missing input {}: {reason}", path.display())]
    NoInput { path: PathBuf, reason: String },
    /// A bug in segflow: an invariant that should hold did not.
    #[error("internal error: {0}")]
    Internal(String),
    /// Reading or writing a file failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The pipeline YAML, a params file or the environment it names is wrong.
    #[error("config error in {file}: {key}: {message}")]
    Config {
        file: String,
        key: String,
        message: String,
    },
}

impl Error {
    pub fn data(location: Location, message: impl Into<String>) -> Self {
        Error::Data {
            location,
            message: message.into(),
        }
    }

    pub fn config(
        file: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Config {
            file: file.into(),
            key: key.into(),
            message: message.into(),
        }
    }

    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Opening a file that is not there is a missing input (66), not an I/O fault (74).
    pub fn open(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::NoInput {
                path: path.as_ref().to_path_buf(),
                reason: "no such file".into(),
            }
        } else {
            Error::io(path, source)
        }
    }

    /// The sysexits code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 64,
            Error::Data { .. } => 65,
            Error::NoInput { .. } => 66,
            Error::Internal(_) => 70,
            Error::Io { .. } => 74,
            Error::Config { .. } => 78,
        }
    }

    /// Names the file of a data error raised where only the row and column were known.
    pub fn located(self, file: &Path) -> Self {
        match self {
            Error::Data {
                mut location,
                message,
            } => {
                if location.file.is_none() {
                    location.file = Some(file.display().to_string());
                }
                Error::Data { location, message }
            }
            other => other,
        }
    }

    /// Re-labels a config error raised by a stage (which only knows its own params) with the
    /// file and key path under which the runner found those params.
    pub fn in_config(self, file: &str, key_prefix: &str) -> Self {
        match self {
            Error::Config { key, message, .. } => {
                let key = if key.is_empty() || key == "." {
                    key_prefix.to_string()
                } else {
                    format!("{key_prefix}.{key}")
                };
                Error::Config {
                    file: file.to_string(),
                    key,
                    message,
                }
            }
            other => other,
        }
    }

    /// A Parquet writer's error while writing `path`. A failed write underneath (a full disk, a
    /// lost mount) is an I/O error naming the file; anything else is a bug in segflow.
    pub fn parquet_write(path: impl AsRef<Path>, e: parquet::errors::ParquetError) -> Self {
        match e {
            parquet::errors::ParquetError::External(inner) => {
                match inner.downcast::<std::io::Error>() {
                    Ok(io) => Error::io(path, *io),
                    Err(other) => parquet::errors::ParquetError::External(other).into(),
                }
            }
            other => other.into(),
        }
    }
}

impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        Error::Internal(format!("parquet: {e}"))
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::Internal(format!("arrow: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::errors::ParquetError;

    #[test]
    fn a_failed_parquet_write_is_an_io_error_naming_the_file_and_anything_else_a_bug() {
        let full = std::io::Error::from_raw_os_error(28);
        let e = Error::parquet_write("out/features.parquet", ParquetError::from(full));
        assert_eq!(e.exit_code(), 74);
        assert!(e.to_string().contains("out/features.parquet"), "{e}");
        let e = Error::parquet_write("out/x.parquet", ParquetError::General("bad".into()));
        assert_eq!(e.exit_code(), 70);
    }
}
