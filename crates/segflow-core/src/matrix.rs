//! The model matrix artifact (`matrix.parquet` from preprocess) as an ndarray, shared by the
//! stages that cluster it.

use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type};
use ndarray::Array2;

use crate::artifact::{Artifact, META_ID_COLUMN, META_MODEL_COLUMNS, read_parquet};
use crate::error::Location;
use crate::{Error, Result};

pub struct Matrix {
    pub artifact: Artifact,
    pub id_column: String,
    pub ids: Vec<String>,
    pub columns: Vec<String>,
    /// rows × columns, row-major.
    pub values: Array2<f64>,
}

pub fn read_matrix(path: &Path) -> Result<Matrix> {
    let artifact = read_parquet(path)?;
    if artifact.kind() != Some("matrix") {
        return Err(Error::data(
            Location::file(path),
            "expected a matrix artifact from preprocess",
        ));
    }
    let id_column = artifact
        .meta(META_ID_COLUMN)
        .unwrap_or("contact_id")
        .to_string();
    let columns: Vec<String> = artifact
        .meta(META_MODEL_COLUMNS)
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| Error::data(Location::file(path), "no segflow.model_columns metadata"))?;
    let ids_array = artifact.column(&id_column)?;
    let ids = ids_array.as_string_opt::<i32>().ok_or_else(|| {
        Error::data(
            Location::file(path).column(&id_column),
            "ids must be strings",
        )
    })?;
    let ids: Vec<String> = ids
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    let (n, d) = (ids.len(), columns.len());
    let mut values = Array2::zeros((n, d));
    for (j, name) in columns.iter().enumerate() {
        let col = artifact.column(name)?;
        if col.data_type() != &DataType::Float64 || col.null_count() > 0 {
            return Err(Error::data(
                Location::file(path).column(name),
                "matrix columns are non-null float64",
            ));
        }
        for (i, v) in col
            .as_primitive::<Float64Type>()
            .values()
            .iter()
            .enumerate()
        {
            values[[i, j]] = *v;
        }
    }
    Ok(Matrix {
        artifact,
        id_column,
        ids,
        columns,
        values,
    })
}
