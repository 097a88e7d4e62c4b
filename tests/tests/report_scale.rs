//! Reports that stay small and true: the value histogram's bins and heavy-tail rule, and the
//! PCA density's cells, against numpy (tests/oracle/histogram.py → histogram.json,
//! density.py → density.json); the density drawn above 5,000 points; a visualize directory
//! and lock holding exactly the charts the pipeline declares.

use std::path::Path;

use segflow_core::lock::Lock;
use segflow_tests::*;
use segflow_visualize::binning::{self, Scale};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn value_histogram_bins_and_scale_match_numpy() {
    let text = std::fs::read_to_string(repo_root().join("tests/oracle/histogram.json")).unwrap();
    let oracle: Value = serde_json::from_str(&text).unwrap();
    let bins = oracle["bins"].as_u64().unwrap() as usize;
    for case in oracle["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let values: Vec<f64> = match case.get("csv") {
            Some(csv) => csv_column(
                &repo_root().join(csv.as_str().unwrap()),
                case["column"].as_str().unwrap(),
            )
            .iter()
            .map(|v| v.parse().unwrap())
            .collect(),
            None => floats(&case["values"]),
        };
        let h = binning::histogram(&values, bins);
        let want = case["skewness"].as_f64().unwrap();
        assert!(
            (h.skewness - want).abs() <= 1e-9 * want.abs(),
            "{name}: skewness {} vs numpy {want}",
            h.skewness
        );
        let scale = match h.scale {
            Scale::Linear => "linear",
            Scale::Log => "log",
        };
        assert_eq!(scale, case["scale"].as_str().unwrap(), "{name}: scale");
        let counts: Vec<u64> = serde_json::from_value(case["counts"].clone()).unwrap();
        assert_eq!(h.counts, counts, "{name}: counts");
        for (i, (got, want)) in h.edges.iter().zip(floats(&case["edges"])).enumerate() {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{name}: edge {i} {got} vs numpy {want}"
            );
        }
    }
}

/// Every chart but the two a test takes out, in the stage's order.
const CHARTS: [&str; 10] = [
    "k_inertia",
    "k_silhouette",
    "k_davies_bouldin",
    "k_calinski_harabasz",
    "pca_scatter",
    "silhouette",
    "segment_sizes",
    "profile_heatmap",
    "seed_stability",
    "bootstrap",
];

fn run(pipeline: &Path) {
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert!(out.status.success(), "run failed: {}", stderr(&out));
}

fn visualize_outputs(run_dir: &Path) -> Vec<String> {
    let lock = Lock::load_existing(run_dir).unwrap();
    lock.stages["visualize"].outputs.keys().cloned().collect()
}

/// 6,000 generated leads: above the 5,000 points the scatter draws one by one, so it is a
/// density; then two charts are taken out of the pipeline and leave the directory and the
/// lock, and so does a file nobody declared.
#[test]
fn many_points_draw_a_density_and_removed_charts_leave_the_run() {
    let scratch = Scratch::new("report-scale");
    let leads = scratch.path().join("leads.csv");
    let out = segflow(&[
        "synth",
        "leads",
        "--rows",
        "6000",
        "--seed",
        "15",
        "--output",
        leads.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let edit = |charts: &[&str]| {
        let charts: Vec<yaml_serde::Value> = charts
            .iter()
            .map(|c| yaml_serde::Value::String(c.to_string()))
            .collect();
        let leads = leads.display().to_string();
        move |d: &mut yaml_serde::Value| {
            d["stages"]["ingest"]["input"] = yaml_serde::Value::String(leads);
            d["stages"]["robustness"]["seeds"] = yaml_serde::Value::from(3);
            d["stages"]["robustness"]["bootstrap"]["resamples"] = yaml_serde::Value::from(5);
            d["stages"]["visualize"]["charts"] = yaml_serde::Value::Sequence(charts);
        }
    };
    let pipeline = isolated_pipeline("leads", scratch.path(), edit(&CHARTS));
    run(&pipeline);
    let run_dir = scratch.path().join("run");
    let visualize = run_dir.join("visualize");

    let scatter = std::fs::read_to_string(visualize.join("chart_pca_scatter.svg")).unwrap();
    let cells = scatter.matches("<rect").count();
    let (across, up) = binning::DENSITY_GRID;
    assert!(
        cells > 20 && cells < across * up + 50,
        "{cells} rectangles: a density of at most {across} × {up} cells, not 6,000 points"
    );
    assert!(
        scatter.matches("<circle").count() < 50,
        "points drawn one by one"
    );
    let report = std::fs::read_to_string(visualize.join("report.html")).unwrap();
    assert!(
        report.contains("6,000 leads are drawn as a density (above 5,000 points"),
        "the caption states the threshold"
    );
    assert!(
        report.contains("outline passes through one in 6 of its sorted values"),
        "the silhouette caption states its resolution"
    );
    for chart in CHARTS {
        let svg = visualize.join(format!("chart_{chart}.svg"));
        let size = std::fs::metadata(&svg).unwrap().len();
        assert!(size < 250_000, "{} is {size} bytes", svg.display());
    }

    std::fs::write(visualize.join("notes.txt"), "not an artifact").unwrap();
    let fewer: Vec<&str> = CHARTS
        .iter()
        .copied()
        .filter(|c| !["pca_scatter", "silhouette"].contains(c))
        .collect();
    let pipeline = isolated_pipeline("leads", scratch.path(), edit(&fewer));
    let out = segflow(&["run", pipeline.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "rerun failed: {}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ran: Vec<&str> = summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "ran")
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["visualize"]);

    let mut want: Vec<String> = fewer
        .iter()
        .map(|c| format!("chart_{c}.svg"))
        .chain(["pca.parquet", "pca_variance.parquet", "report.html"].map(String::from))
        .collect();
    want.sort();
    assert_eq!(files_under(&visualize), want);
    let locked: Vec<String> = want.iter().map(|f| format!("visualize/{f}")).collect();
    assert_eq!(visualize_outputs(&run_dir), locked);
    assert!(
        !files_under(&run_dir)
            .iter()
            .any(|f| f.contains(".old-") || f.contains(".staging-")),
        "nothing set aside is left: {:?}",
        files_under(&run_dir)
    );
    let verify = segflow(&["verify", run_dir.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn density_cells_match_numpy_histogram2d() {
    let text = std::fs::read_to_string(repo_root().join("tests/oracle/density.json")).unwrap();
    let oracle: Value = serde_json::from_str(&text).unwrap();
    let points: Vec<(f64, f64, usize)> = oracle["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_f64().unwrap(),
                p[1].as_f64().unwrap(),
                p[2].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let range = |v: &Value| v[0].as_f64().unwrap()..v[1].as_f64().unwrap();
    let grid = &oracle["grid"];
    let cells = binning::density(
        &points,
        &range(&oracle["x_range"]),
        &range(&oracle["y_range"]),
        (
            grid[0].as_u64().unwrap() as usize,
            grid[1].as_u64().unwrap() as usize,
        ),
    );
    let want: Vec<(usize, usize, u64, usize)> = oracle["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["at"][0].as_u64().unwrap() as usize,
                c["at"][1].as_u64().unwrap() as usize,
                c["count"].as_u64().unwrap(),
                c["segment"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let got: Vec<(usize, usize, u64, usize)> = cells
        .iter()
        .map(|c| (c.at.0, c.at.1, c.count, c.segment))
        .collect();
    assert_eq!(got, want);
}
