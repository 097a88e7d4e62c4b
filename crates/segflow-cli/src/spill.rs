//! Rows put back in key order without holding them: sorted runs written to a scratch directory,
//! then merged k ways (in several rounds when there are many runs), so `assign` writes a table
//! of any size in the id order the features stage gives it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::{SortColumn, concat_batches, interleave_record_batch, lexsort_to_indices};
use arrow::datatypes::{SchemaRef, UInt64Type};
use arrow::error::ArrowError;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;

use segflow_core::{Error, Result};

/// Runs merged at once: bounds the readers (and their buffered rows) open at the same time.
const FAN_IN: usize = 32;
/// Rows per batch of a run file, and so per batch read back: small, since a merge holds one
/// batch of each run it reads.
const RUN_BATCH_ROWS: usize = 4_096;

/// What rows are ordered by: a text column, or an unsigned integer column; ties keep the
/// order the rows were pushed in.
#[derive(Clone, Copy)]
pub(crate) enum Key {
    Text(&'static str),
    Number(&'static str),
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Value {
    Text(String),
    Number(u64),
}

impl Key {
    fn value(self, batch: &RecordBatch, row: usize) -> Value {
        match self {
            Key::Text(name) => Value::Text(
                batch
                    .column_by_name(name)
                    .expect("the key column is in every row")
                    .as_string::<i32>()
                    .value(row)
                    .to_string(),
            ),
            Key::Number(name) => Value::Number(
                batch
                    .column_by_name(name)
                    .expect("the key column is in every row")
                    .as_primitive::<UInt64Type>()
                    .value(row),
            ),
        }
    }
}

/// Rows pushed in any order, given back in key order.
pub(crate) struct SortedRuns {
    dir: PathBuf,
    key: Key,
    /// Rows held in memory before they are sorted and written as one run.
    run_rows: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    runs: Vec<PathBuf>,
    written: usize,
    schema: Option<SchemaRef>,
}

impl SortedRuns {
    /// Runs go to `dir`, which must exist and which the caller removes.
    pub(crate) fn new(dir: &Path, key: Key, run_rows: usize) -> SortedRuns {
        SortedRuns {
            dir: dir.to_path_buf(),
            key,
            run_rows: run_rows.max(1),
            pending: Vec::new(),
            pending_rows: 0,
            runs: Vec::new(),
            written: 0,
            schema: None,
        }
    }

    pub(crate) fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.schema.get_or_insert_with(|| batch.schema());
        self.pending_rows += batch.num_rows();
        self.pending.push(batch);
        if self.pending_rows >= self.run_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// The pending rows, sorted (ties in push order), as a new run file.
    fn flush(&mut self) -> Result<()> {
        let Some(schema) = self.schema.clone() else {
            return Ok(());
        };
        if self.pending_rows == 0 {
            return Ok(());
        }
        let all = concat_batches(&schema, &self.pending)?;
        self.pending.clear();
        self.pending_rows = 0;
        let name = match self.key {
            Key::Text(name) | Key::Number(name) => name,
        };
        let key = all
            .column_by_name(name)
            .ok_or_else(|| Error::Internal(format!("rows to sort lack {name}")))?;
        let order = lexsort_to_indices(
            &[SortColumn {
                values: key.clone(),
                options: None,
            }],
            None,
        )?;
        // lexsort is not stable: equal keys are put back in push order.
        let mut order: Vec<u32> = order.values().to_vec();
        let text = matches!(self.key, Key::Text(_)).then(|| key.as_string::<i32>());
        let mut start = 0;
        while start < order.len() {
            let same = |a: u32, b: u32| match text {
                Some(t) => t.value(a as usize) == t.value(b as usize),
                None => false,
            };
            let end = (start + 1..order.len())
                .find(|&i| !same(order[start], order[i]))
                .unwrap_or(order.len());
            order[start..end].sort_unstable();
            start = end;
        }
        let sorted =
            arrow::compute::take_record_batch(&all, &arrow::array::UInt32Array::from(order))?;
        drop(all);
        let path = self.next_run_path();
        write_run(&path, &sorted)?;
        self.runs.push(path);
        Ok(())
    }

    fn next_run_path(&mut self) -> PathBuf {
        self.written += 1;
        self.dir.join(format!("run-{:06}.arrows", self.written))
    }

    /// Every row pushed, in key order, handed to `emit` in batches of `batch_rows` (the last
    /// may be shorter). Nothing is emitted when no row was pushed.
    pub(crate) fn finish(
        mut self,
        batch_rows: usize,
        emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
    ) -> Result<()> {
        self.flush()?;
        while self.runs.len() > FAN_IN {
            let group: Vec<PathBuf> = self.runs.drain(..FAN_IN).collect();
            let path = self.next_run_path();
            let mut writer = RunWriter::default();
            merge(&group, self.key, RUN_BATCH_ROWS, &mut |b| {
                writer.write(&path, &b)
            })?;
            writer.finish(&path)?;
            for run in &group {
                std::fs::remove_file(run).map_err(|e| Error::io(run, e))?;
            }
            self.runs.push(path);
        }
        merge(&self.runs, self.key, batch_rows, emit)
    }
}

/// A run file, an Arrow IPC stream written batch by batch, created with the first batch.
/// Unlike a Parquet file, whose writer and reader keep every row group's metadata (which grows
/// with the run), a stream keeps nothing per batch written and its reader holds one batch.
#[derive(Default)]
struct RunWriter {
    writer: Option<StreamWriter<BufWriter<File>>>,
}

impl RunWriter {
    fn write(&mut self, path: &Path, batch: &RecordBatch) -> Result<()> {
        if self.writer.is_none() {
            let file = File::create(path).map_err(|e| Error::io(path, e))?;
            self.writer = Some(
                StreamWriter::try_new_buffered(file, &batch.schema())
                    .map_err(|e| run_error(path, e))?,
            );
        }
        let writer = self.writer.as_mut().expect("created above");
        // Batches of at most RUN_BATCH_ROWS, which is what the merge reads back at a time.
        let mut offset = 0;
        while offset < batch.num_rows() {
            let rows = RUN_BATCH_ROWS.min(batch.num_rows() - offset);
            writer
                .write(&batch.slice(offset, rows))
                .map_err(|e| run_error(path, e))?;
            offset += rows;
        }
        Ok(())
    }

    fn finish(self, path: &Path) -> Result<()> {
        if let Some(mut writer) = self.writer {
            writer.finish().map_err(|e| run_error(path, e))?;
        }
        Ok(())
    }
}

/// A failed read or write of a run underneath (a full disk) is an I/O error naming the file;
/// anything else is a bug in segflow, which wrote the run.
fn run_error(path: &Path, e: ArrowError) -> Error {
    match e {
        ArrowError::IoError(_, io) => Error::io(path, io),
        other => Error::Internal(format!("scratch run {}: {other}", path.display())),
    }
}

fn write_run(path: &Path, batch: &RecordBatch) -> Result<()> {
    let mut writer = RunWriter::default();
    writer.write(path, batch)?;
    writer.finish(path)
}

type RunReader = StreamReader<BufReader<File>>;

/// One run being merged: its reader and the batch it is in.
struct Cursor {
    reader: RunReader,
    batch: RecordBatch,
    row: usize,
    /// Index of `batch` among the batches the output being gathered picks from.
    source: usize,
}

fn open_run(path: &Path) -> Result<RunReader> {
    let file = File::open(path).map_err(|e| Error::open(path, e))?;
    StreamReader::try_new_buffered(file, None).map_err(|e| run_error(path, e))
}

fn next_batch(reader: &mut RunReader, path: &Path) -> Result<Option<RecordBatch>> {
    reader.next().transpose().map_err(|e| run_error(path, e))
}

/// The rows of the sorted `runs`, in key order (ties: the earlier run first), to `emit` in
/// batches of `batch_rows`.
fn merge(
    runs: &[PathBuf],
    key: Key,
    batch_rows: usize,
    emit: &mut dyn FnMut(RecordBatch) -> Result<()>,
) -> Result<()> {
    let mut cursors: Vec<Option<Cursor>> = Vec::with_capacity(runs.len());
    let mut sources: Vec<RecordBatch> = Vec::new();
    let mut heap = BinaryHeap::new();
    for (i, path) in runs.iter().enumerate() {
        let mut reader = open_run(path)?;
        let cursor = match next_batch(&mut reader, path)? {
            Some(batch) if batch.num_rows() > 0 => {
                heap.push(Reverse((key.value(&batch, 0), i)));
                sources.push(batch.clone());
                Some(Cursor {
                    reader,
                    batch,
                    row: 0,
                    source: sources.len() - 1,
                })
            }
            _ => None,
        };
        cursors.push(cursor);
    }
    let mut picks: Vec<(usize, usize)> = Vec::with_capacity(batch_rows);
    while let Some(Reverse((_, i))) = heap.pop() {
        let cursor = cursors[i].as_mut().expect("a run in the heap has a cursor");
        picks.push((cursor.source, cursor.row));
        cursor.row += 1;
        if cursor.row == cursor.batch.num_rows() {
            match next_batch(&mut cursor.reader, &runs[i])? {
                Some(batch) if batch.num_rows() > 0 => {
                    sources.push(batch.clone());
                    cursor.batch = batch;
                    cursor.row = 0;
                    cursor.source = sources.len() - 1;
                }
                _ => cursors[i] = None,
            }
        }
        if let Some(cursor) = &cursors[i] {
            heap.push(Reverse((key.value(&cursor.batch, cursor.row), i)));
        }
        if picks.len() == batch_rows {
            let refs: Vec<&RecordBatch> = sources.iter().collect();
            emit(interleave_record_batch(&refs, &picks)?)?;
            picks.clear();
            // Only the batches the cursors are in are still needed.
            sources.clear();
            for cursor in cursors.iter_mut().flatten() {
                sources.push(cursor.batch.clone());
                cursor.source = sources.len() - 1;
            }
        }
    }
    if !picks.is_empty() {
        let refs: Vec<&RecordBatch> = sources.iter().collect();
        emit(interleave_record_batch(&refs, &picks)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_write_is_an_io_error_naming_the_run_and_anything_else_a_bug() {
        let path = Path::new("scratch/runs/run-000001.arrows");
        let full = std::io::Error::from_raw_os_error(28);
        let e = run_error(path, ArrowError::IoError("write".into(), full));
        assert_eq!(e.exit_code(), 74);
        assert!(e.to_string().contains("run-000001.arrows"), "{e}");
        let e = run_error(path, ArrowError::IpcError("bad message".into()));
        assert_eq!(e.exit_code(), 70);
        assert!(e.to_string().contains("run-000001.arrows"), "{e}");
    }

    #[test]
    fn a_truncated_run_is_reported_not_merged_short() {
        let dir = std::env::temp_dir().join(format!("segflow-spill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run-000001.arrows");
        let ids: arrow::array::ArrayRef =
            std::sync::Arc::new(arrow::array::UInt64Array::from_iter_values(0..10_000));
        let rows = RecordBatch::try_from_iter([("n", ids)]).unwrap();
        write_run(&path, &rows).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        let e = merge(
            std::slice::from_ref(&path),
            Key::Number("n"),
            RUN_BATCH_ROWS,
            &mut |_| Ok(()),
        )
        .unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        // The stream ends mid-message: a read that came up short, not a bug.
        assert_eq!(e.exit_code(), 74, "{e}");
        assert!(e.to_string().contains("run-000001.arrows"), "{e}");
    }
}
