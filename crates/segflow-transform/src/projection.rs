//! Optional PCA after scaling: the model sees the leading principal components instead of the
//! scaled columns. Fitted once, saved as an artifact, applied the same way to new rows.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array};
use ndarray::{Array1, Array2};
use serde::Deserialize;

use segflow_cluster::{Components, Pca, PcaParams};
use segflow_core::artifact::{Artifact, batch};
use segflow_core::error::Location;
use segflow_core::{Error, Result};

/// How many components to keep: a count, or the fewest whose explained variance reaches a
/// share of the total.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcaSpec {
    pub components: Option<usize>,
    pub variance: Option<f64>,
}

impl PcaSpec {
    pub fn validate(&self) -> Result<()> {
        match (self.components, self.variance) {
            (Some(c), None) if c >= 1 => Ok(()),
            (None, Some(v)) if v > 0.0 && v <= 1.0 => Ok(()),
            _ => Err(Error::config(
                "",
                "pca",
                "give either `components` (≥ 1) or `variance` (a share in (0, 1])",
            )),
        }
    }
}

/// A fitted projection and the columns it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub pca: Pca,
    pub inputs: Vec<String>,
}

impl Projection {
    pub fn fit(spec: &PcaSpec, inputs: Vec<String>, columns: &[Vec<f64>]) -> Result<Projection> {
        let n = columns.first().map_or(0, Vec::len);
        let x = Array2::from_shape_fn((n, columns.len()), |(i, j)| columns[j][i]);
        let count = match (spec.components, spec.variance) {
            (Some(c), _) => Components::Count(c.min(columns.len())),
            (_, Some(v)) => Components::Fraction(v),
            _ => unreachable!("validated"),
        };
        let pca = PcaParams::new(count)
            .fit_array(x.view())
            .map_err(|e| Error::data(Location::default(), format!("PCA: {e}")))?;
        Ok(Projection { pca, inputs })
    }

    pub fn output_columns(&self) -> Vec<String> {
        (1..=self.pca.components.nrows())
            .map(|c| format!("pc{c}"))
            .collect()
    }

    /// Projects matrix columns (in `inputs` order) onto the components, column-major out.
    pub fn apply(&self, columns: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let n = columns.first().map_or(0, Vec::len);
        let x = Array2::from_shape_fn((n, columns.len()), |(i, j)| columns[j][i]);
        let p = self.pca.transform_array(x.view());
        p.columns().into_iter().map(|c| c.to_vec()).collect()
    }

    /// The three inputs with the largest |loading| on component `c`.
    pub fn top_loadings(&self, c: usize) -> String {
        let row = self.pca.components.row(c);
        let mut idx: Vec<usize> = (0..row.len()).collect();
        idx.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()));
        idx.iter()
            .take(3)
            .map(|&j| format!("{} {:+.3}", self.inputs[j], row[j]))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// One `mean` row, then one row of loadings per component with its variance shares.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let c = self.pca.components.nrows();
        let ratio = &self.pca.explained_variance_ratio;
        let mut cumulative = 0.0;
        let cum: Vec<f64> = ratio
            .iter()
            .map(|r| {
                cumulative += r;
                cumulative
            })
            .collect();
        let mut arrays: Vec<(&str, ArrayRef)> = vec![
            (
                "row",
                Arc::new(StringArray::from_iter_values(
                    std::iter::once("mean".to_string()).chain(self.output_columns()),
                )),
            ),
            (
                "component",
                Arc::new(UInt32Array::from(
                    std::iter::once(None)
                        .chain((1..=c as u32).map(Some))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "explained_variance_ratio",
                Arc::new(Float64Array::from(
                    std::iter::once(None)
                        .chain(ratio.iter().map(|r| Some(*r)))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "cumulative_ratio",
                Arc::new(Float64Array::from(
                    std::iter::once(None)
                        .chain(cum.iter().map(|r| Some(*r)))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "top_loadings",
                Arc::new(StringArray::from(
                    std::iter::once(None)
                        .chain((0..c).map(|i| Some(self.top_loadings(i))))
                        .collect::<Vec<_>>(),
                )),
            ),
        ];
        for (j, name) in self.inputs.iter().enumerate() {
            arrays.push((
                name.as_str(),
                Arc::new(Float64Array::from_iter_values(
                    std::iter::once(self.pca.mean[j])
                        .chain(self.pca.components.column(j).iter().copied()),
                )),
            ));
        }
        batch(arrays)
    }

    pub fn from_artifact(a: &Artifact, inputs: Vec<String>) -> Result<Projection> {
        if a.kind() != Some("projection") {
            return Err(Error::data(
                Location::file(&a.path),
                "expected a projection artifact",
            ));
        }
        let rows = a.batch.num_rows();
        if rows < 2 {
            return Err(Error::data(Location::file(&a.path), "no components"));
        }
        let ratio = a.float_column("explained_variance_ratio")?;
        let mut mean = Array1::zeros(inputs.len());
        let mut components = Array2::zeros((rows - 1, inputs.len()));
        for (j, name) in inputs.iter().enumerate() {
            let v = a.float_column(name)?;
            mean[j] = v[0];
            for r in 1..rows {
                components[[r - 1, j]] = v[r];
            }
        }
        Ok(Projection {
            pca: Pca {
                mean,
                components,
                explained_variance: Array1::from_elem(rows - 1, f64::NAN),
                explained_variance_ratio: Array1::from_iter(ratio[1..].iter().copied()),
                singular_values: Array1::from_elem(rows - 1, f64::NAN),
            },
            inputs,
        })
    }
}
