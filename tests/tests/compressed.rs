//! gzip- and zstd-compressed text input: recognised by its magic bytes whatever its name,
//! read to the same artifacts as the plain file, refused as bad data (65) when it does not
//! decompress, and scored by `assign` like the plain records.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use ruzstd::encoding::{CompressionLevel, compress_to_vec};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

fn walsoft_csv() -> PathBuf {
    repo_root().join("data/walsoft/walsoft_semi_categorized_phone_dataset.csv")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    compress_to_vec(bytes, CompressionLevel::Fastest)
}

/// The Walsoft pipeline through `last`, reading its call log from `input`; the run directory.
fn walsoft_run(scratch: &Scratch, name: &str, input: &Path, last: &str) -> PathBuf {
    let dir = scratch.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let pipeline = isolated_pipeline("walsoft", &dir, |doc| {
        stop_after(doc, last);
        doc["stages"]["ingest"]["input"] = input.display().to_string().into();
    });
    let o = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    dir.join("run")
}

/// An artifact's data and its metadata without the input hashes, which are of the input file
/// and so differ between a compressed file and the plain one.
fn contents(path: &Path) -> (arrow::array::RecordBatch, BTreeMap<String, String>) {
    let artifact = read_parquet(path).unwrap();
    let mut metadata = artifact.metadata;
    assert!(metadata.remove("segflow.input_hashes").is_some());
    (artifact.batch, metadata)
}

#[test]
fn a_compressed_call_log_gives_the_artifacts_of_the_plain_one() {
    let scratch = Scratch::new("compressed-same");
    let plain = std::fs::read(walsoft_csv()).unwrap();
    // Named .csv on purpose: the magic bytes decide, not the extension.
    let gz = scratch.path().join("calls.csv");
    std::fs::write(&gz, gzip(&plain)).unwrap();
    let zst = scratch.path().join("calls.zst");
    std::fs::write(&zst, zstd(&plain)).unwrap();
    let reference = walsoft_run(&scratch, "plain", &walsoft_csv(), "features");
    for (name, input) in [("gzip", &gz), ("zstd", &zst)] {
        let run = walsoft_run(&scratch, name, input, "features");
        for artifact in ["ingest/events.parquet", "features/features.parquet"] {
            let (batch, metadata) = contents(&run.join(artifact));
            let (want_batch, want_metadata) = contents(&reference.join(artifact));
            assert!(batch.num_rows() > 0, "{name}: {artifact} is empty");
            assert!(batch == want_batch, "{name}: {artifact} data differ");
            assert_eq!(metadata, want_metadata, "{name}: {artifact} metadata");
        }
    }
}

/// `segflow ingest` on `input` exits 65 naming it and saying `says`, and leaves nothing.
fn assert_refused(scratch: &Scratch, input: &Path, says: &str) {
    let params = scratch.path().join("ingest.yaml");
    let doc: yaml_serde::Value = yaml_serde::from_str(
        &std::fs::read_to_string(repo_root().join("pipelines/walsoft.yaml")).unwrap(),
    )
    .unwrap();
    let mut stage = doc["stages"]["ingest"].clone();
    stage.as_mapping_mut().unwrap().shift_remove("input");
    std::fs::write(&params, yaml_serde::to_string(&stage).unwrap()).unwrap();
    let out = scratch.path().join("out");
    let o = run_stage(
        "ingest",
        input.to_str().unwrap(),
        &out,
        params.to_str().unwrap(),
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains(&input.display().to_string()) && err.contains(says),
        "{err}"
    );
    assert!(
        !out.exists() || files_under(&out).is_empty(),
        "written: {:?}",
        files_under(&out)
    );
}

#[test]
fn a_truncated_gzip_file_is_bad_data_naming_it() {
    let scratch = Scratch::new("compressed-truncated");
    let whole = gzip(&std::fs::read(walsoft_csv()).unwrap());
    let input = scratch.path().join("calls.csv.gz");
    std::fs::write(&input, &whole[..whole.len() / 2]).unwrap();
    assert_refused(&scratch, &input, "corrupt or truncated gzip input");
}

#[test]
fn a_corrupt_zstd_file_is_bad_data_naming_it() {
    let scratch = Scratch::new("compressed-corrupt");
    let mut bytes = zstd(&std::fs::read(walsoft_csv()).unwrap());
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 64] {
        *b ^= 0x5a;
    }
    let input = scratch.path().join("calls.csv.zst");
    std::fs::write(&input, bytes).unwrap();
    assert_refused(&scratch, &input, "corrupt or truncated zstd input");
}

#[test]
fn assign_scores_gzipped_new_records_like_the_plain_ones() {
    let scratch = Scratch::new("compressed-assign");
    let run = walsoft_run(&scratch, "fit", &walsoft_csv(), "fit");
    let gz = scratch.path().join("new-calls.csv.gz");
    std::fs::write(&gz, gzip(&std::fs::read(walsoft_csv()).unwrap())).unwrap();
    let mut scored = Vec::new();
    for (name, input) in [("plain", walsoft_csv()), ("gzip", gz)] {
        let output = scratch.path().join(format!("{name}.parquet"));
        let o = segflow(&[
            "assign",
            "--model",
            run.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        scored.push(read_parquet(&output).unwrap().batch);
    }
    assert!(scored[0].num_rows() > 0);
    assert!(
        scored[0] == scored[1],
        "gzip scores differ from the plain ones"
    );
}
