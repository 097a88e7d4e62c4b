//! `assign` over an entity table, streamed: the new rows are read, typed, turned into
//! features, transformed and scored a batch at a time, put in id order through sorted runs on
//! disk, and written a batch at a time, so memory does not hold the table.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Float64Type, Int32Type, UInt64Type};
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use segflow_core::artifact::{Artifact, ROW_GROUP_ROWS, batch};
use segflow_core::error::Location;
use segflow_core::params::{parse_params, parse_valid};
use segflow_core::{Error, Result};
use segflow_features::Aggregation;
use segflow_fit::Scored;
use segflow_ingest::{ColumnType, Mode, TableBatches};
use segflow_transform::Unseen;

use crate::assign::{
    Contacts, Options, Report, Scoring, Scratch, Used, count_segments, open_scored,
    output_metadata, scored_table, segments, with_explanations,
};
use crate::spill::{Key, SortedRuns};

/// Sorted runs hold this many batches each before they go to disk.
const BATCHES_PER_RUN: usize = 16;

/// Scratch columns of a scored row beside the output's own: its record number and line.
const NUMBER: &str = "segflow_row_number";
const LINE: &str = "segflow_line";
/// The output columns rebuilt from the cluster when the rows are written, not carried
/// through the sorted runs.
const REBUILT: [&str; 5] = [
    "segment",
    "decision_use",
    "operational_rule",
    "channel",
    "owner",
];

/// Whether the run ingested an entity table.
pub(crate) fn is_table(scoring: &Scoring) -> bool {
    parse_params::<segflow_ingest::Params>(&scoring.ingest_params)
        .is_ok_and(|p| p.mode == Mode::Table)
}

/// What the streamed pass found beyond the scored rows.
struct Tally {
    scored: usize,
    counts: Vec<usize>,
    unseen: Vec<Unseen>,
}

impl Tally {
    fn add(&mut self, scoring: &Scoring, scored: &Scored, unseen: Vec<Unseen>) {
        self.scored += scored.labels.len();
        count_segments(&scoring.model, scored, &mut self.counts);
        for u in unseen {
            match self.unseen.iter_mut().find(|t| t.column == u.column) {
                Some(t) => t.count += u.count,
                None => self.unseen.push(u),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn assign_table(
    input: &Path,
    scoring: &Scoring,
    scratch: &Scratch,
    output: &Path,
    options: &Options<'_>,
    batch_rows: usize,
    read: &std::collections::BTreeMap<String, String>,
    progress: &dyn Fn(&str),
) -> Result<Report> {
    let ingest: segflow_ingest::Params = parse_valid(&scoring.ingest_params)?;
    let spec: segflow_features::Params = parse_valid(&scoring.features_params)?;
    let types = source_types(scoring, &spec)?;
    let mut reader = TableBatches::open(input, &ingest, &types)?;
    let runs_dir = scratch.0.join("runs");
    std::fs::create_dir_all(&runs_dir).map_err(|e| Error::io(&runs_dir, e))?;
    let key = if reader.has_id() {
        Key::Text("row_id")
    } else {
        Key::Number(NUMBER)
    };
    let mut runs = SortedRuns::new(&runs_dir, key, batch_rows * BATCHES_PER_RUN);
    let mut tally = Tally {
        scored: 0,
        counts: Vec::new(),
        unseen: Vec::new(),
    };
    progress("reading, transforming and scoring batches");
    let mut empty = None;
    while let Some(rows) = reader.next_batch(batch_rows)? {
        let ids = rows.rows.column(0).clone();
        let features = segflow_features::table_features(input, "row_id", &ids, &spec, |c| {
            rows.rows
                .column_by_name(c)
                .cloned()
                .ok_or_else(|| Error::Internal(format!("table batch lacks {c}")))
        })?;
        let artifact = Artifact {
            path: input.to_path_buf(),
            batch: features.batch,
            metadata: features.metadata.into_iter().collect(),
        };
        let contacts = Contacts::of(&artifact, scoring, input)?;
        let (table, scored) = score(&contacts, scoring, options)?;
        tally.add(scoring, &scored, contacts.unseen);
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            (NUMBER, Arc::new(UInt64Array::from(rows.numbers))),
            (LINE, Arc::new(UInt64Array::from(rows.lines))),
        ];
        let schema = table.schema();
        for (field, column) in schema.fields().iter().zip(table.columns()) {
            if !REBUILT.contains(&field.name().as_str()) {
                columns.push((field.name().as_str(), column.clone()));
            }
        }
        runs.push(batch(columns)?)?;
    }
    reader.finish()?;
    if tally.scored == 0 {
        // No row to score: the output still has the columns of one that was.
        let contacts = Contacts {
            id_column: "row_id".into(),
            ids: Vec::new(),
            x: Array2::zeros((0, scoring.model.columns.len())),
            unseen: Vec::new(),
        };
        empty = Some(score(&contacts, scoring, options)?.0);
    }
    let (rows_in, rejected) = reader.counts();
    let report = Report {
        rows_read: rows_in,
        excluded: 0,
        rejected,
        too_few_events: 0,
        rows: tally.scored,
        output: output.to_path_buf(),
        segments: segments(&scoring.model, &tally.counts),
        unseen: tally.unseen,
        window: None,
    };
    let metadata = output_metadata(&report, "row_id", scoring, options)?;
    let used = Used {
        read,
        options,
        seed: scoring.seed,
    };
    let inputs = [input.to_path_buf()];
    progress("writing in id order");
    let mut stream = None;
    let mut last: Option<(String, u64)> = None;
    let id_column = reader.id_column().unwrap_or_default().to_string();
    let mut write = |table: RecordBatch| -> Result<()> {
        let stream = match &mut stream {
            Some(s) => s,
            None => stream.insert(open_scored(
                output,
                table.schema(),
                &metadata,
                &inputs,
                &used,
            )?),
        };
        stream.write(&table)
    };
    if let Some(table) = empty {
        write(table)?;
    }
    // One write per row group: the writer then encodes each row group as it does when one
    // whole-table batch is written (where a text column's dictionary overflows and its pages
    // switch to plain encoding depends on the batches it is given).
    runs.finish(ROW_GROUP_ROWS, &mut |sorted: RecordBatch| {
        let ids = ids_of(&sorted, &reader)?;
        if reader.has_id() {
            check_repeats(&ids, &sorted, &mut last, input, &id_column)?;
        }
        write(rebuilt(&sorted, ids, scoring)?)
    })?;
    stream
        .ok_or_else(|| Error::Internal("nothing was written".into()))?
        .finish()?;
    Ok(report)
}

/// The scored table of `contacts`, with explanations when asked for, and the scores.
fn score(
    contacts: &Contacts,
    scoring: &Scoring,
    options: &Options<'_>,
) -> Result<(RecordBatch, Scored)> {
    let scored = scoring.model.assign(contacts.x.view());
    let mut table = scored_table(&contacts.id_column, &contacts.ids, &scoring.model, &scored)?;
    if options.explain {
        table = with_explanations(&table, contacts, scoring, &scored)?;
    }
    Ok((table, scored))
}

/// The final `row_id`s of sorted scratch rows: the hashed id, or the record number padded to
/// the width the whole input needs.
fn ids_of(sorted: &RecordBatch, reader: &TableBatches) -> Result<Vec<String>> {
    let column = |name: &str| {
        sorted
            .column_by_name(name)
            .ok_or_else(|| Error::Internal(format!("scratch rows lack {name}")))
    };
    Ok(if reader.has_id() {
        column("row_id")?
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect()
    } else {
        column(NUMBER)?
            .as_primitive::<UInt64Type>()
            .values()
            .iter()
            .map(|&n| reader.row_id(n))
            .collect()
    })
}

/// An entity table has one row per entity: equal ids are neighbours once sorted, so a repeat
/// is found with only the previous id kept.
fn check_repeats(
    ids: &[String],
    sorted: &RecordBatch,
    last: &mut Option<(String, u64)>,
    input: &Path,
    id_column: &str,
) -> Result<()> {
    let lines = sorted
        .column_by_name(LINE)
        .ok_or_else(|| Error::Internal("scratch rows lack their lines".into()))?
        .as_primitive::<UInt64Type>();
    for (id, &line) in ids.iter().zip(lines.values()) {
        if let Some((previous, first)) = last.as_ref()
            && previous == id
        {
            let (first, repeat) = ((*first).min(line), (*first).max(line));
            return Err(Error::data(
                Location::file(input).line(repeat).column(id_column),
                format!(
                    "id repeats the entity of line {first} (an entity table has one row per entity)"
                ),
            ));
        }
        *last = Some((id.clone(), line));
    }
    Ok(())
}

/// The output rows from sorted scratch rows: the scored table rebuilt from the cluster, then
/// the explanation columns carried through.
fn rebuilt(sorted: &RecordBatch, ids: Vec<String>, scoring: &Scoring) -> Result<RecordBatch> {
    let column = |name: &str| sorted.column_by_name(name);
    let missing = |name: &str| Error::Internal(format!("scratch rows lack {name}"));
    let floats = |name: &str| -> Result<Vec<f64>> {
        Ok(column(name)
            .ok_or_else(|| missing(name))?
            .as_primitive::<Float64Type>()
            .values()
            .to_vec())
    };
    let scored = Scored {
        labels: column("cluster")
            .ok_or_else(|| missing("cluster"))?
            .as_primitive::<Int32Type>()
            .values()
            .iter()
            .map(|&c| usize::try_from(c).ok())
            .collect(),
        distance: floats("distance")?,
        margin: floats("margin")?,
        probability: column("probability")
            .map(|_| floats("probability"))
            .transpose()?,
    };
    let table = scored_table("row_id", &ids, &scoring.model, &scored)?;
    let core = [
        "row_id",
        NUMBER,
        LINE,
        "cluster",
        "distance",
        "margin",
        "probability",
    ];
    let schema = sorted.schema();
    let mut columns: Vec<(&str, ArrayRef)> = table
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .zip(table.columns().iter().cloned())
        .collect();
    for (field, array) in schema.fields().iter().zip(sorted.columns()) {
        let name = field.name().as_str();
        if !core.contains(&name) && !REBUILT.contains(&name) {
            columns.push((name, array.clone()));
        }
    }
    batch(columns)
}

/// The types of the training table's columns that the features read: new rows are typed as
/// training's were (numbers or text), since inferring types would need every row first.
fn source_types(
    scoring: &Scoring,
    spec: &segflow_features::Params,
) -> Result<Vec<(String, ColumnType)>> {
    let path = &scoring.ingested;
    let file = File::open(path).map_err(|e| Error::open(path, e))?;
    let schema = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| Error::data(Location::file(path), format!("not readable Parquet: {e}")))?
        .schema()
        .clone();
    let mut types: Vec<(String, ColumnType)> = Vec::new();
    for (_, _, feature) in spec.features() {
        let Aggregation::Column(source) = &feature.aggregation else {
            continue;
        };
        if types.iter().any(|(n, _)| n == source) {
            continue;
        }
        let field = schema.field_with_name(source).map_err(|_| {
            Error::data(
                Location::file(path).column(source),
                "the training table lacks a column its features read",
            )
        })?;
        // Every number reaches the model as a float, so an integer column read as floats
        // scores the same and also takes `12.0`, as exports of integer columns with blanks
        // write them.
        let column_type = match field.data_type() {
            DataType::Int64 | DataType::Float64 => ColumnType::Float64,
            _ => ColumnType::String,
        };
        types.push((source.clone(), column_type));
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_names_both_lines_in_input_order() {
        let lines: ArrayRef = Arc::new(UInt64Array::from(vec![9, 4]));
        let ids: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["a", "a"]));
        let sorted = batch(vec![("row_id", ids), (LINE, lines)]).unwrap();
        let mut last = None;
        let e = check_repeats(
            &["a".into(), "a".into()],
            &sorted,
            &mut last,
            Path::new("new.csv"),
            "lead_id",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad data in new.csv, line 9, column `lead_id`: id repeats the entity of line 4 (an entity table has one row per entity)"
        );
    }
}
