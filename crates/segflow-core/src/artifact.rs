//! Parquet artifacts with provenance metadata.
//!
//! Artifacts are plain Parquet (readable by pandas, polars, DuckDB). Provenance lives in the
//! file's key-value metadata under `segflow.*` keys. Nothing time-dependent is written, so the
//! same inputs, params and seed give byte-identical files.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::{Error, Result, TOOL_VERSION};

/// Version of the artifact layout; bumped when a schema changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

pub const META_STAGE: &str = "segflow.stage";
pub const META_ARTIFACT: &str = "segflow.artifact";
pub const META_TOOL_VERSION: &str = "segflow.tool_version";
pub const META_PARAMS_HASH: &str = "segflow.params_hash";
/// The stage's params as one line of JSON, in document order.
pub const META_PARAMS: &str = "segflow.params";
pub const META_INPUT_HASHES: &str = "segflow.input_hashes";
pub const META_SEED: &str = "segflow.seed";
pub const META_SCHEMA_VERSION: &str = "segflow.schema_version";
/// The entity id column of a per-entity artifact (`contact_id`, `row_id`).
pub const META_ID_COLUMN: &str = "segflow.id_column";
/// `false` on an events artifact whose timestamps are dates only (every event at midnight), so
/// hour-of-day features are refused; absent when events carry a time of day.
pub const META_TIME_OF_DAY: &str = "segflow.time_of_day";
/// JSON list of `{block, model_input, columns}` in column order.
pub const META_BLOCKS: &str = "segflow.blocks";
/// The clustering behind a fit's assignments, as JSON (algorithm, k, n_init, max_iter, tol):
/// what robustness refits with.
pub const META_MODEL: &str = "segflow.model";
/// How a fit's per-row silhouettes were computed: `exact`, or `sampled: S of N, seed X`.
pub const META_SILHOUETTE: &str = "segflow.silhouette";
/// JSON list of the model-input columns in order.
pub const META_MODEL_COLUMNS: &str = "segflow.model_columns";

/// Who made an artifact and from what. Input hashes are keyed by file name, not path, so a
/// stage run by the pipeline runner and the same stage run alone by an orchestrator write the
/// same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub stage: String,
    pub params_hash: String,
    /// The params as JSON (`hash::params_json`).
    pub params: String,
    pub input_hashes: BTreeMap<String, String>,
    pub seed: u64,
}

impl Provenance {
    fn key_values(&self, artifact: &str) -> Vec<KeyValue> {
        let inputs = serde_json::to_string(&self.input_hashes).expect("string map serialises");
        [
            (META_STAGE, self.stage.clone()),
            (META_ARTIFACT, artifact.to_string()),
            (META_TOOL_VERSION, TOOL_VERSION.to_string()),
            (META_PARAMS_HASH, self.params_hash.clone()),
            (META_PARAMS, self.params.clone()),
            (META_INPUT_HASHES, inputs),
            (META_SEED, self.seed.to_string()),
            (META_SCHEMA_VERSION, SCHEMA_VERSION.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| KeyValue::new(k.to_string(), v))
        .collect()
    }
}

/// Writes one record batch as a Parquet file: to a temporary name beside the target, then
/// renamed into place, so a reader never sees a half-written file.
pub fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    artifact: &str,
    provenance: &Provenance,
    extra: &[(String, String)],
) -> Result<()> {
    let mut stream = ParquetStream::create(path, batch.schema(), artifact, provenance, extra)?;
    stream.write(batch)?;
    stream.finish()
}

/// Rows per Parquet row group. The writer holds a whole row group in memory before it goes to
/// disk, so this bounds what a stage streaming a large artifact holds for its output.
pub const ROW_GROUP_ROWS: usize = 131_072;

/// A Parquet artifact written batch by batch, so a stage over a large input holds one batch
/// (plus the writer's open row group) rather than the whole table. The bytes equal those of
/// [`write_parquet`] over the concatenated batches when every batch but the last is a multiple
/// of the writer's 1,024-row mini-batch. Until [`ParquetStream::finish`], the data lives under
/// a temporary name that dropping the stream removes.
pub struct ParquetStream {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<File>>,
}

impl ParquetStream {
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        artifact: &str,
        provenance: &Provenance,
        extra: &[(String, String)],
    ) -> Result<Self> {
        let mut kv = provenance.key_values(artifact);
        kv.extend(
            extra
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("segflow {TOOL_VERSION}"))
            .set_key_value_metadata(Some(kv))
            .build();
        let tmp = temp_sibling(path);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut stream = Self {
            path: path.to_path_buf(),
            tmp,
            writer: None,
        };
        stream.writer = Some(
            ArrowWriter::try_new(file, schema, Some(props))
                .map_err(|e| Error::parquet_write(&stream.tmp, e))?,
        );
        Ok(stream)
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .as_mut()
            .expect("a stream is written until it is finished")
            .write(batch)
            .map_err(|e| Error::parquet_write(&self.tmp, e))
    }

    /// Closes the file, syncs it and renames it into place.
    pub fn finish(mut self) -> Result<()> {
        let writer = self.writer.take().expect("finished once");
        let file = writer
            .into_inner()
            .map_err(|e| Error::parquet_write(&self.tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }
}

impl Drop for ParquetStream {
    fn drop(&mut self) {
        // A finished stream was renamed away; anything left under the name is partial.
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Writes bytes atomically (temporary sibling, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_sibling(path);
    let result = fs::write(&tmp, bytes)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|_| fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// A Parquet artifact read whole, with its key-value metadata.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub path: PathBuf,
    pub batch: RecordBatch,
    pub metadata: BTreeMap<String, String>,
}

impl Artifact {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The `segflow.artifact` kind, e.g. `events`, `table`, `features`.
    pub fn kind(&self) -> Option<&str> {
        self.meta(META_ARTIFACT)
    }

    /// A column by name, with a data error naming the file when it is absent.
    pub fn column(&self, name: &str) -> Result<&arrow::array::ArrayRef> {
        self.batch.column_by_name(name).ok_or_else(|| {
            Error::data(
                crate::error::Location::file(&self.path).column(name),
                "required column is missing",
            )
        })
    }
}

impl Artifact {
    /// A numeric column as f64, nulls as NaN; a non-numeric column is a data error.
    pub fn float_column(&self, name: &str) -> Result<Vec<f64>> {
        use arrow::array::{Array, Float64Array};
        let array = self.column(name)?;
        if !array.data_type().is_numeric() {
            return Err(Error::data(
                crate::error::Location::file(&self.path).column(name),
                format!("not numeric ({})", array.data_type()),
            ));
        }
        let floats = arrow::compute::cast(array, &arrow::datatypes::DataType::Float64)?;
        let floats = floats
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to Float64");
        Ok((0..floats.len())
            .map(|i| {
                if floats.is_null(i) {
                    f64::NAN
                } else {
                    floats.value(i)
                }
            })
            .collect())
    }
}

/// Reads a whole Parquet artifact into one batch.
pub fn read_parquet(path: &Path) -> Result<Artifact> {
    open_parquet(path)?.read_all()
}

/// A Parquet artifact read batch by batch: its schema and metadata up front, then record
/// batches of at most [`ParquetBatches::BATCH_ROWS`] rows.
pub struct ParquetBatches {
    pub path: PathBuf,
    pub schema: SchemaRef,
    pub metadata: BTreeMap<String, String>,
    reader: ParquetRecordBatchReader,
}

impl ParquetBatches {
    pub const BATCH_ROWS: usize = 65_536;

    pub fn kind(&self) -> Option<&str> {
        self.metadata.get(META_ARTIFACT).map(String::as_str)
    }

    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The remaining batches as one.
    pub fn read_all(self) -> Result<Artifact> {
        let (path, schema, metadata) = (
            self.path.clone(),
            self.schema.clone(),
            self.metadata.clone(),
        );
        let batches = self.collect::<Result<Vec<_>>>()?;
        Ok(Artifact {
            path,
            batch: arrow::compute::concat_batches(&schema, &batches)?,
            metadata,
        })
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let path = &self.path;
        self.reader.next().map(|r| {
            r.map_err(|e| {
                Error::data(
                    crate::error::Location::file(path),
                    format!("cannot decode Parquet: {e}"),
                )
            })
        })
    }
}

pub fn open_parquet(path: &Path) -> Result<ParquetBatches> {
    open_parquet_columns(path, |_| true)
}

/// Opens an artifact for reading only the top-level columns whose names pass `wanted`, so
/// columns a stage does not use are never decoded.
pub fn open_parquet_columns(path: &Path, wanted: impl Fn(&str) -> bool) -> Result<ParquetBatches> {
    let file = File::open(path).map_err(|e| Error::open(path, e))?;
    let not_parquet = |e: parquet::errors::ParquetError| {
        Error::data(
            crate::error::Location::file(path),
            format!("not a readable Parquet file: {e}"),
        )
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(not_parquet)?
        .with_batch_size(ParquetBatches::BATCH_ROWS);
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kvs| {
            kvs.iter()
                .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.clone(), v.clone())))
                .collect()
        })
        .unwrap_or_default();
    let roots: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| wanted(f.name()))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).build().map_err(not_parquet)?;
    Ok(ParquetBatches {
        path: path.to_path_buf(),
        schema: reader.schema(),
        metadata,
        reader,
    })
}

/// Builds a record batch from named columns. Every field is declared nullable so a schema
/// does not change with the data.
pub fn batch(columns: Vec<(&str, arrow::array::ArrayRef)>) -> Result<RecordBatch> {
    let fields: Vec<arrow::datatypes::Field> = columns
        .iter()
        .map(|(name, array)| arrow::datatypes::Field::new(*name, array.data_type().clone(), true))
        .collect();
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    Ok(RecordBatch::try_new(
        schema,
        columns.into_iter().map(|(_, a)| a).collect(),
    )?)
}
