//! The provenance chain of a stage's inputs: artifacts a stage reads together must come from
//! one run, or a report would mix, say, the policy of one fit with the findings of another.
//!
//! Two rules, both from the provenance every artifact carries:
//! - an artifact that records a hash for input file name N agrees with the given input named N;
//! - two artifacts written by the same stage record the same inputs, params and seed (they are
//!   outputs of one run of that stage).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::artifact::{META_INPUT_HASHES, META_PARAMS_HASH, META_SEED, META_STAGE};
use crate::error::Location;
use crate::hash::file_sha256;
use crate::{Error, Result};

/// One input of a stage: its path and its `segflow.*` metadata.
pub struct Input<'a> {
    pub path: &'a Path,
    pub metadata: &'a BTreeMap<String, String>,
}

/// What an artifact's provenance says about the run that wrote it.
struct Made<'a> {
    path: &'a Path,
    name: String,
    stage: Option<&'a str>,
    params_hash: Option<&'a str>,
    seed: Option<&'a str>,
    input_hashes: BTreeMap<String, String>,
}

impl<'a> Made<'a> {
    fn read(input: &Input<'a>) -> Result<Self> {
        let meta = |key: &str| input.metadata.get(key).map(String::as_str);
        let input_hashes = match meta(META_INPUT_HASHES) {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                Error::data(
                    Location::file(input.path),
                    format!("unreadable {META_INPUT_HASHES} metadata: {e}"),
                )
            })?,
            None => BTreeMap::new(),
        };
        Ok(Self {
            path: input.path,
            name: file_name(input.path),
            stage: meta(META_STAGE),
            params_hash: meta(META_PARAMS_HASH),
            seed: meta(META_SEED),
            input_hashes,
        })
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Refuses inputs whose provenance disagrees (exit 65), naming the two artifacts.
pub fn check(inputs: &[Input<'_>]) -> Result<()> {
    let made = inputs.iter().map(Made::read).collect::<Result<Vec<_>>>()?;
    // Hashed only when another input's provenance names it: most inputs are recorded by none.
    let mut hashes: BTreeMap<PathBuf, String> = BTreeMap::new();
    for a in &made {
        for b in made.iter().filter(|b| b.path != a.path) {
            let Some(recorded) = a.input_hashes.get(&b.name) else {
                continue;
            };
            let actual = match hashes.get(b.path) {
                Some(h) => h.clone(),
                None => {
                    let h = file_sha256(b.path)?;
                    hashes.insert(b.path.to_path_buf(), h.clone());
                    h
                }
            };
            if *recorded != actual {
                return Err(Error::data(
                    Location::file(b.path),
                    format!(
                        "{} was made from another {} (its provenance records {}, this file \
                         hashes to {}): the two artifacts come from different runs",
                        a.path.display(),
                        b.name,
                        short(recorded),
                        short(&actual)
                    ),
                ));
            }
        }
    }
    for (i, a) in made.iter().enumerate() {
        for b in &made[i + 1..] {
            let Some(stage) = a.stage.filter(|s| b.stage == Some(*s)) else {
                continue;
            };
            let differs = [
                ("inputs", a.input_hashes != b.input_hashes),
                ("params", a.params_hash != b.params_hash),
                ("seed", a.seed != b.seed),
            ]
            .into_iter()
            .filter(|(_, d)| *d)
            .map(|(what, _)| what)
            .collect::<Vec<_>>();
            if let Some((last, first)) = differs.split_last() {
                let what = match first {
                    [] => last.to_string(),
                    _ => format!("{} and {last}", first.join(", ")),
                };
                return Err(Error::data(
                    Location::file(b.path),
                    format!(
                        "written by another {stage} run than {} (their {what} differ): the two \
                         artifacts come from different runs",
                        a.path.display(),
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(stage: &str, params: &str, inputs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let hashes: BTreeMap<&str, &str> = inputs.iter().copied().collect();
        [
            (META_STAGE, stage.to_string()),
            (META_PARAMS_HASH, params.to_string()),
            (META_SEED, "42".to_string()),
            (META_INPUT_HASHES, serde_json::to_string(&hashes).unwrap()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn outputs_of_two_runs_of_one_stage_are_refused_naming_both() {
        let a = meta("fit", "p1", &[("matrix.parquet", "m1")]);
        let b = meta("fit", "p2", &[("matrix.parquet", "m1")]);
        let c = meta("fit", "p1", &[("matrix.parquet", "m1")]);
        let (pa, pb, pc) = (
            Path::new("r1/policy.parquet"),
            Path::new("r2/findings.parquet"),
            Path::new("r1/findings.parquet"),
        );
        let err = check(&[
            Input {
                path: pa,
                metadata: &a,
            },
            Input {
                path: pb,
                metadata: &b,
            },
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 65);
        let text = err.to_string();
        assert!(
            text.contains("r1/policy.parquet")
                && text.contains("r2/findings.parquet")
                && text.contains("params"),
            "{text}"
        );
        check(&[
            Input {
                path: pa,
                metadata: &a,
            },
            Input {
                path: pc,
                metadata: &c,
            },
        ])
        .unwrap();
    }

    #[test]
    fn an_input_that_is_not_the_file_another_was_made_from_is_refused() {
        let dir = std::env::temp_dir().join(format!("segflow-lineage-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let matrix = dir.join("matrix.parquet");
        std::fs::write(&matrix, b"the matrix").unwrap();
        let actual = file_sha256(&matrix).unwrap();
        let m = meta("preprocess", "p", &[]);
        let made_from = |hash: &str| meta("fit", "f", &[("matrix.parquet", hash)]);
        let (good, bad) = (made_from(&actual), made_from("0123456789abcdef"));
        let assignments = Path::new("fit/assignments.parquet");
        let with = |fit: &BTreeMap<String, String>| {
            check(&[
                Input {
                    path: assignments,
                    metadata: fit,
                },
                Input {
                    path: &matrix,
                    metadata: &m,
                },
            ])
        };
        with(&good).unwrap();
        let text = with(&bad).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            text.contains("fit/assignments.parquet")
                && text.contains("matrix.parquet")
                && text.contains("0123456789ab"),
            "{text}"
        );
    }
}
