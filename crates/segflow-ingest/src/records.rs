//! The records of an input, whatever its format: delimited text (plain, gzip or zstd), or
//! Parquet (one file, found by its magic bytes, or a directory of part files). Both yield
//! text fields, so every row goes through the same parsing, rules and audit.

use std::path::Path;

use chrono_tz::Tz;
use csv::ByteRecord;

use segflow_core::Result;

use crate::ColumnType;
use crate::clock::Temporal;
use crate::parquet_rows::{ParquetRows, is_parquet};
use crate::reader::{Csv, TextLayout};

pub enum Records {
    Text(Csv),
    // Boxed: a Parquet reader holds its decoder state inline.
    Parquet(Box<ParquetRows>),
}

impl Records {
    /// Opens `path` and checks that every required column is there. Text is read as `layout`
    /// says; `zone` is the time zone Parquet instants are written in (UTC when `None`).
    pub fn open(path: &Path, layout: &TextLayout<'_>, zone: Option<Tz>) -> Result<Self> {
        Ok(if path.is_dir() || is_parquet(path)? {
            Records::Parquet(Box::new(ParquetRows::open(path, layout, zone)?))
        } else {
            Records::Text(Csv::open(path, layout)?)
        })
    }

    pub fn path(&self) -> &Path {
        match self {
            Records::Text(csv) => &csv.path,
            Records::Parquet(rows) => &rows.path,
        }
    }

    pub fn header(&self) -> &[String] {
        match self {
            Records::Text(csv) => &csv.header,
            Records::Parquet(rows) => &rows.header,
        }
    }

    /// Position of a required column; its absence fails the whole input (exit 65).
    pub fn index(&self, column: &str) -> Result<usize> {
        match self {
            Records::Text(csv) => csv.index(column),
            Records::Parquet(rows) => rows.index(column),
        }
    }

    /// Reads the next record; returns where it starts: its 1-based line in text, its 1-based
    /// row number in Parquet.
    pub fn next(&mut self, record: &mut ByteRecord) -> Result<Option<u64>> {
        match self {
            Records::Text(csv) => csv.next(record),
            Records::Parquet(rows) => rows.next(record),
        }
    }

    /// Whether column `col` is typed as a point in time (text never is).
    pub fn temporal(&self, col: usize) -> Option<Temporal> {
        match self {
            Records::Text(_) => None,
            Records::Parquet(rows) => rows.temporal(col),
        }
    }

    /// The table-mode type the input declares for column `col` (text declares none).
    pub fn declared(&self, col: usize) -> Option<ColumnType> {
        match self {
            Records::Text(_) => None,
            Records::Parquet(rows) => rows.declared(col),
        }
    }
}
