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

/// Walsoft's model blocks and the category shares, in the order Walsoft's features stage
/// writes them.
const BLOCKS: &[(&str, &[&str])] = &[
    (
        "volume",
        &[
            "n_calls",
            "n_days_active",
            "calls_per_active_day",
            "calls_per_tenure_day",
            "log_n_calls",
        ],
    ),
    (
        "duration",
        &[
            "total_dur_sec",
            "mean_dur_sec",
            "median_dur_sec",
            "p90_dur_sec",
            "log_total_dur",
            "log_median_dur",
            "long_call_share",
        ],
    ),
    ("recency", &["recency_days", "tenure_days"]),
    (
        "timing",
        &[
            "share_business_hours",
            "share_evening",
            "share_early_morning",
            "share_late_night",
            "share_open_day",
            "share_closed_day",
        ],
    ),
    (
        "category",
        &[
            "share_cat_Unknown",
            "share_cat_Family",
            "share_cat_Supplier",
            "share_cat_Important Contacts",
            "share_cat_Service Provider",
        ],
    ),
];

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
        let blocks: String = BLOCKS
            .iter()
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
