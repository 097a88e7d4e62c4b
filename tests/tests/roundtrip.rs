//! The round trip of scaling out: Walsoft's features computed outside segflow (pandas, in
//! tests/oracle/walsoft_features.py), handed over as a Hive-partitioned Parquet dataset whose
//! ids are already pseudonyms (tests/oracle/roundtrip/walsoft_hive.py), run through a
//! table-mode pipeline with Walsoft's preprocess, select_k and fit settings and
//! `privacy.id: {method: none}`, give the segments of the all-segflow Walsoft run.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray};
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

/// Walsoft's category shares, the block its features stage writes after the model blocks.
const CATEGORY_SHARES: (&str, &[&str]) = (
    "category",
    &[
        "share_cat_Unknown",
        "share_cat_Family",
        "share_cat_Supplier",
        "share_cat_Important Contacts",
        "share_cat_Service Provider",
    ],
);

/// Each entity's id and cluster in a fit's assignments (the id is the first column).
fn clusters(run: &Path) -> BTreeMap<String, usize> {
    let a = read_parquet(&run.join("fit/assignments.parquet")).unwrap();
    let ids = a.batch.column(0).as_string::<i32>().clone();
    let cluster = a.float_column("cluster").unwrap();
    (0..ids.len())
        .map(|i| (ids.value(i).to_string(), cluster[i] as usize))
        .collect()
}

#[test]
fn engine_features_as_hive_parquet_give_the_segments_of_the_all_segflow_run() {
    let (all, engine) = (
        Scratch::new("roundtrip-segflow"),
        Scratch::new("roundtrip-engine"),
    );
    let walsoft = isolated_pipeline("walsoft", all.path(), |doc| stop_after(doc, "fit"));
    let o = segflow(&["run", walsoft.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let dataset = repo_root().join("tests/oracle/roundtrip/walsoft_features");
    let table = isolated_pipeline("walsoft", engine.path(), |doc| {
        stop_after(doc, "fit");
        let stages = &mut doc["stages"];
        stages["ingest"] = yaml_serde::from_str(&format!(
            "{{input: '{}', mode: table, table: {{id: contact_id}}, \
             privacy: {{id: {{method: none}}}}}}",
            dataset.display()
        ))
        .unwrap();
        let blocks: String = WALSOFT_MODEL_BLOCKS
            .iter()
            .chain([&CATEGORY_SHARES])
            .map(|(block, columns)| {
                let features: String = columns
                    .iter()
                    .map(|c| format!("'{c}': {{column: '{c}'}}, "))
                    .collect();
                format!("{block}: {{{features}}}, ")
            })
            .collect();
        stages["features"] = yaml_serde::from_str(&format!(
            "{{needs: [ingest], blocks: {{{blocks}}}, \
             model_blocks: [volume, duration, recency, timing]}}"
        ))
        .unwrap();
    });
    let o = segflow(&["run", table.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let (ours, theirs) = (
        clusters(&all.path().join("run")),
        clusters(&engine.path().join("run")),
    );
    // The ids came through as the engine wrote them: the same pseudonyms segflow makes.
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let (a, b): (Vec<usize>, Vec<usize>) = ours.iter().map(|(id, &c)| (c, theirs[id])).unzip();
    let ari = segflow_cluster::metrics::adjusted_rand_index(&a, &b).unwrap();
    assert_eq!(
        ari, 1.0,
        "ARI between the all-segflow and the engine-features run"
    );
}
