//! select_k's decision artifact (`decision.parquet`) read back: the chosen K, the rule and its
//! reason, for the stages that use it (fit takes its K, visualize marks and explains it).

use arrow::array::{Array, AsArray};
use arrow::datatypes::UInt32Type;

use crate::artifact::Artifact;
use crate::error::Location;
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub k: usize,
    pub rule: String,
    pub reason: String,
}

/// Where a reason's cautions begin: select_k writes them after the rule's own words, and the
/// report lifts them onto its first screen.
pub const CAUTION: &str = ". Caution: ";

impl Decision {
    /// The cautions about the choice (a flat silhouette curve, neighbouring K as good), if any.
    pub fn caution(&self) -> Option<&str> {
        self.reason.split_once(CAUTION).map(|(_, c)| c)
    }
}

/// The decision of a select_k run; it holds exactly one row, anything else is a data error
/// naming the file and the column.
pub fn read_decision(a: &Artifact) -> Result<Decision> {
    let text = |name: &str| -> Result<String> {
        let col = a.column(name)?;
        col.as_string_opt::<i32>()
            .filter(|s| s.len() == 1 && s.is_valid(0))
            .map(|s| s.value(0).to_string())
            .ok_or_else(|| Error::data(Location::file(&a.path).column(name), "expected one string"))
    };
    let k = a
        .column("k")?
        .as_primitive_opt::<UInt32Type>()
        .filter(|k| k.len() == 1 && k.is_valid(0))
        .map(|k| k.value(0) as usize)
        .ok_or_else(|| Error::data(Location::file(&a.path).column("k"), "expected one K"))?;
    Ok(Decision {
        k,
        rule: text("rule")?,
        reason: text("reason")?,
    })
}
