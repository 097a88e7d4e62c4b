//! select_k's gap statistic against an independent numpy implementation
//! (tests/oracle/gap/gap.py): given the data, segflow's uniform draws and the k-means inertias
//! (gap_draws.json, written by this test with SEGFLOW_WRITE_GAP_DRAWS=1), numpy builds the
//! reference sets from its own SVD and computes Gap, s and the 1-SE choice
//! (gap_expected.json). Here segflow's reference sets, Gap, s and choice must agree with it.

use ndarray::{Array2, ArrayView2};
use segflow_cluster::KMeansParams;
use segflow_select_k::gap::{
    ReferenceBox, gap_scores, one_se_choice, reference_inertias, uniforms,
};
use segflow_tests::*;
use serde_json::{Value, json};

const B: usize = 5;
const SEED: u64 = 42;
const KS: [usize; 5] = [2, 3, 4, 5, 6];

fn read(name: &str) -> Value {
    let path = repo_root().join("tests/oracle/gap").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, d), rows.into_iter().flatten().collect()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

/// k-means as select_k runs it on the data and on every reference set.
fn inertia(k: usize, x: ArrayView2<'_, f64>) -> Result<f64, segflow_cluster::ClusterError> {
    KMeansParams::new(k)
        .n_init(10)
        .seed(SEED)
        .fit_array(x)
        .map(|m| m.inertia)
}

#[track_caller]
fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: segflow {got} vs numpy {want}"
    );
}

#[test]
fn gap_statistic_matches_numpy() {
    let x = matrix(&read("gap_matrix.json")["X"]);
    let (n, d) = x.dim();
    let draws = uniforms(n, d, B, SEED);
    let data: Vec<f64> = KS.iter().map(|&k| inertia(k, x.view()).unwrap()).collect();
    let reference = reference_inertias(x.view(), &KS, B, SEED, inertia).unwrap();
    if std::env::var_os("SEGFLOW_WRITE_GAP_DRAWS").is_some() {
        let text = json!({
            "ks": KS,
            "uniforms": draws.iter().map(|u| u.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "inertia": data,
            "reference_inertia": reference,
        });
        std::fs::write(
            repo_root().join("tests/oracle/gap/gap_draws.json"),
            format!("{text}\n"),
        )
        .unwrap();
        // Writing is the first half of regenerating the oracle; numpy's half comes next.
        return;
    }

    // What numpy was given is what segflow draws and fits today; after a change to k-means,
    // rerun the three steps in gap.py's docstring.
    let given = read("gap_draws.json");
    // serde_json reads floats to within an ulp, not always exactly.
    for (b, u) in draws.iter().enumerate() {
        let want = matrix(&given["uniforms"][b]);
        for ((i, j), v) in u.indexed_iter() {
            close(*v, want[[i, j]], 1e-15, &format!("draw {b} [{i}, {j}]"));
        }
    }
    let fitted = |v: &Value| -> Vec<f64> { floats(v) };
    for (i, &k) in KS.iter().enumerate() {
        close(
            data[i],
            fitted(&given["inertia"])[i],
            1e-9,
            &format!("W_{k}"),
        );
        for (b, w) in reference[i].iter().enumerate() {
            close(
                *w,
                fitted(&given["reference_inertia"][i])[b],
                1e-9,
                &format!("W*_{k} of set {b}"),
            );
        }
    }

    let want = read("gap_expected.json");
    let space = ReferenceBox::of(x.view()).unwrap();
    for (b, u) in draws.iter().enumerate() {
        let got = space.reference_set(u.view());
        let expected = matrix(&want["reference_sets"][b]);
        for ((i, j), v) in got.indexed_iter() {
            close(
                *v,
                expected[[i, j]],
                1e-9,
                &format!("reference set {b} [{i}, {j}]"),
            );
        }
    }
    let reference_given: Vec<Vec<f64>> =
        serde_json::from_value(given["reference_inertia"].clone()).unwrap();
    let scores = gap_scores(&fitted(&given["inertia"]), &reference_given);
    for (i, (s, k)) in scores.iter().zip(KS).enumerate() {
        close(s.gap, floats(&want["gap"])[i], 1e-12, &format!("Gap({k})"));
        close(s.sd, floats(&want["sd"])[i], 1e-12, &format!("sd({k})"));
        close(s.s, floats(&want["s"])[i], 1e-12, &format!("s({k})"));
    }
    let chosen = one_se_choice(&scores, |_| true).map(|i| KS[i] as u64);
    assert_eq!(chosen, want["k"].as_u64(), "the 1-SE choice");
    assert_eq!(chosen, Some(3), "three blobs");
}

#[test]
fn the_gap_rule_runs_in_the_pipeline_the_same_on_one_and_two_threads() {
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let scratch = Scratch::new(&format!("gap-rule-threads-{threads}"));
        let pipeline = isolated_pipeline("leads", scratch.path(), |doc| {
            stop_after(doc, "select_k");
            let select_k = &mut doc["stages"]["select_k"];
            select_k["k"] = yaml_serde::from_str("[2, 6]").unwrap();
            select_k["rule"] = "gap".into();
            select_k["gap"] = yaml_serde::from_str("{b: 4, n_init: 3}").unwrap();
        });
        let out = segflow_env(
            &["run", pipeline.to_str().unwrap()],
            &[("RAYON_NUM_THREADS", Some(threads))],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let run = scratch.path().join("run/select_k");
        outputs.push((
            std::fs::read(run.join("k_scores.parquet")).unwrap(),
            std::fs::read(run.join("decision.parquet")).unwrap(),
            render_full(&run.join("k_scores.parquet")),
            render_full(&run.join("decision.parquet")),
        ));
    }
    assert!(
        outputs[0].0 == outputs[1].0,
        "k_scores differ between 1 and 2 threads"
    );
    assert!(
        outputs[0].1 == outputs[1].1,
        "decision differs between 1 and 2 threads"
    );
    let (scores, decision) = (&outputs[0].2, &outputs[0].3);
    assert!(
        scores.contains("gap: Float64") && scores.contains("gap_s: Float64"),
        "{scores}"
    );
    assert!(
        decision.contains("| gap | Gap statistic (Tibshirani, Walther & Hastie 2001; B = 4"),
        "{decision}"
    );
}
