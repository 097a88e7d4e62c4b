//! The HTML report: one self-contained file (inline CSS and SVG, no network, no scripts but a
//! small check that every chart rendered) with the audit, the K decision, the segments with
//! their names, actions and narratives, the robustness evidence and the limitations.

use std::fmt::Write;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;

use segflow_core::Result;
use segflow_core::artifact::{Artifact, META_BLOCKS, META_PARAMS};
use segflow_core::nouns::Nouns;

use crate::study_time::StudyTime;
use crate::{Chart, Drawn, Params, Sources, mix_table, privacy_note, strings};

const STYLE: &str = r#"
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d232b; background: #f6f7f9; line-height: 1.45; }
header, section, footer { max-width: 1080px; margin: 0 auto; padding: 1rem 1.5rem; }
header { background: #0b3954; color: #fff; max-width: none; }
header h1 { margin: 0.2rem 0; }
nav a { color: #cfe8ff; margin-right: 1rem; }
section { background: #fff; margin-top: 1rem; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { border-bottom: 2px solid #0b3954; padding-bottom: .3rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d7dce2; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.decision { font-size: 1.1rem; background: #eef6ff; border-left: 4px solid #0072b2; padding: .6rem .8rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 1rem; }
.card { border: 1px solid #d7dce2; border-top: 6px solid var(--segment); border-radius: 6px; padding: .6rem .9rem; }
.card h3 { margin: .2rem 0; }
.card .size { color: #56606b; }
.card dt { font-weight: 600; margin-top: .4rem; }
.card dd { margin: 0; }
.band { font-weight: 600; }
figure.chart { margin: 1rem 0; }
figure.chart svg { max-width: 100%; height: auto; border: 1px solid #e3e7ec; }
figcaption { color: #56606b; font-size: .9rem; }
footer { color: #56606b; font-size: .85rem; }
"#;

/// Sets `data-charts-rendered="drawn/total"` on the body once every chart has a non-empty
/// box: what the browser check reads.
const RENDER_CHECK: &str = r#"
(function () {
  var figures = document.querySelectorAll('figure.chart');
  var drawn = 0;
  figures.forEach(function (f) {
    var svg = f.querySelector('svg');
    if (!svg) return;
    var box = svg.getBBox();
    if (box.width > 0 && box.height > 0 && svg.querySelectorAll('*').length > 10) {
      drawn += 1;
      f.setAttribute('data-rendered', 'yes');
    }
  });
  document.body.setAttribute('data-charts-rendered', drawn + '/' + figures.length);
})();
"#;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How the report words what segflow itself names: the pipeline's nouns, and the moments of
/// the log.
pub struct Words<'a> {
    pub nouns: &'a Nouns,
    pub time: StudyTime,
}

impl Words<'_> {
    /// segflow's own column and metric names that count rows, in the pipeline's nouns
    /// (`n_contacts` → `n_customers`); the artifacts keep their names.
    fn name(&self, name: &str) -> String {
        let plural = self.nouns.entity.plural.replace(' ', "_");
        match name {
            "n_contacts" => format!("n_{plural}"),
            "distinct_contacts" => format!("distinct_{plural}"),
            "contacts" => self.nouns.entity.plural.clone(),
            other => other.to_string(),
        }
    }
}

/// A cell as text: floats to 4 significant digits, moments of a relative log as days of the
/// study, everything else as written.
fn cell(array: &dyn Array, row: usize, words: &Words<'_>) -> (String, bool) {
    if array.is_null(row) {
        return (String::new(), false);
    }
    match array.data_type() {
        DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, _)
            if words.time != StudyTime::Calendar =>
        {
            let v = array
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(row);
            (words.time.moment(v), false)
        }
        DataType::Float64 => {
            let v = array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row);
            (number(v), true)
        }
        DataType::Utf8 => (words.name(array.as_string::<i32>().value(row)), false),
        DataType::Boolean => (array.as_boolean().value(row).to_string(), false),
        _ => {
            let s = arrow::util::display::array_value_to_string(array, row).unwrap_or_default();
            let numeric = array.data_type().is_numeric();
            (s, numeric)
        }
    }
}

fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == v.trunc() && v.abs() < 1e12 {
        return format!("{v:.0}");
    }
    let digits = 4 - (v.abs().log10().floor() as i32 + 1);
    format!("{v:.*}", digits.clamp(0, 6) as usize)
}

/// An artifact as an HTML table; `columns` picks and orders columns (None: all).
fn table(a: &Artifact, columns: Option<&[&str]>, words: &Words<'_>) -> String {
    let schema = a.batch.schema();
    let names: Vec<&str> = match columns {
        Some(c) => c
            .iter()
            .copied()
            .filter(|c| schema.column_with_name(c).is_some())
            .collect(),
        None => schema.fields().iter().map(|f| f.name().as_str()).collect(),
    };
    let mut s = String::from("<table><thead><tr>");
    for n in &names {
        let _ = write!(s, "<th>{}</th>", escape(&words.name(n)));
    }
    s.push_str("</tr></thead><tbody>");
    for r in 0..a.batch.num_rows() {
        s.push_str("<tr>");
        for n in &names {
            let col = a
                .batch
                .column_by_name(n)
                .expect("filtered to existing columns");
            let (text, numeric) = cell(col.as_ref(), r, words);
            let _ = write!(
                s,
                "<td{}>{}</td>",
                if numeric { " class=\"num\"" } else { "" },
                escape(&text)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

fn figures(drawn: &[Drawn], which: &[Chart]) -> String {
    let mut s = String::new();
    for d in drawn.iter().filter(|d| which.contains(&d.chart)) {
        let svg = d.svg.find("<svg").map_or(d.svg.as_str(), |i| &d.svg[i..]);
        let _ = write!(
            s,
            "<figure class=\"chart\" data-chart=\"{}\">{svg}<figcaption>{}</figcaption></figure>",
            d.chart.kind(),
            escape(&d.caption)
        );
    }
    s
}

fn value_of(a: &Artifact, key: &str) -> Option<String> {
    let metrics = strings(a, "metric").ok()?;
    let values = strings(a, "value").ok()?;
    metrics
        .iter()
        .position(|m| m == key)
        .map(|i| values[i].clone())
}

/// Limitations that follow from the run itself, then the pipeline's own.
fn limitations(
    src: &Sources,
    params: &Params,
    words: &Words<'_>,
    pca_ratios: [f64; 2],
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(d) = &src.decision {
        out.push(format!(
            "The number of segments follows the rule `{}` ({}). Another rule can choose another K; the K table shows every index.",
            d.rule, d.reason
        ));
    }
    if let Some(e) = src.get("events") {
        let ingest: serde_json::Value = e
            .meta(META_PARAMS)
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let method = ingest["privacy"]["id"]["method"]
            .as_str()
            .unwrap_or("sha256");
        if method == "sha256" {
            out.push(privacy_note::note(src.get("audit_summary"), words.nouns));
        }
        if method == "none" {
            out.push(privacy_note::kept(words.nouns));
        }
    }
    if let Some(f) = src.get("features") {
        let blocks: Vec<serde_json::Value> = f
            .meta(META_BLOCKS)
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        let interpretation: Vec<&str> = blocks
            .iter()
            .filter(|b| b["model_input"].as_bool() == Some(false))
            .filter_map(|b| b["block"].as_str())
            .collect();
        if !interpretation.is_empty() {
            out.push(format!(
                "Blocks {} describe the segments but did not shape them (not model inputs).",
                interpretation.join(", ")
            ));
        }
        if let Some(as_of) = f.meta("segflow.as_of") {
            out.push(format!(
                "Recency is measured from {}, the end of the data, not from today; segments describe past behaviour.",
                words.time.moment_text(as_of)
            ));
        }
    }
    out.push(format!(
        "The PCA picture keeps {:.1} % of the variance of the model matrix; closeness in the picture is not closeness in the model.",
        (pca_ratios[0] + pca_ratios[1]) * 100.0
    ));
    out.push("Names and actions come from rules in the pipeline YAML applied to the segment cards; they are a reading of the numbers, not a measurement of intent.".into());
    out.extend(params.limitations.iter().cloned());
    out
}

pub fn render(
    src: &Sources,
    params: &Params,
    drawn: &[Drawn],
    pca_ratios: [f64; 2],
) -> Result<String> {
    let policy = src.need("policy")?;
    let findings = src.need("findings")?;
    let summary = src.need("summary")?;
    let names = strings(policy, "segment")?;
    let entity = &params.nouns.entity;
    let words = Words {
        nouns: &params.nouns,
        time: StudyTime::of_run(src.get("events"), src.get("audit_summary")),
    };
    let words = &words;
    let mixes = match src.get("mix") {
        Some(m) => mix_table::read(m, names.len())?,
        None => Vec::new(),
    };
    let mix_style = if mixes.is_empty() {
        ""
    } else {
        mix_table::STYLE
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}{mix_style}</style>\n</head>\n<body>\n",
        escape(&params.title)
    );
    let _ = write!(
        h,
        "<header><h1>{}</h1><p>{} in {} segments. {}</p>{}{}<nav><a href=\"#audit\">Data</a><a href=\"#k\">Choosing K</a><a href=\"#segments\">Segments</a><a href=\"#robustness\">Robustness</a><a href=\"#limitations\">Limitations</a></nav></header>",
        escape(&params.title),
        escape(
            &entity.count(
                value_of(summary, "contacts")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_default()
            )
        ),
        names.len(),
        escape(&value_of(summary, "algorithm").unwrap_or_default()),
        // How much structure there is belongs on the first screen: weak structure changes
        // how every segment below should be read (tiers, not types).
        value_of(summary, "structure")
            .map(|s| format!("<p class=\"structure\">{}</p>", escape(&s)))
            .unwrap_or_default(),
        src.decision
            .as_ref()
            .and_then(|d| d.caution())
            .map(|c| format!(
                "<p class=\"caution\">About K = {}: {}.</p>",
                names.len(),
                escape(c)
            ))
            .unwrap_or_default(),
    );
    h.push('\n');

    h.push_str("<section id=\"audit\"><h2>Data</h2>");
    if let Some(a) = src.get("audit_summary") {
        // Rows left out by a rule are shown where there are any, so every input row is
        // accounted for (rows_in = accepted + excluded + rejected).
        let excluded = [
            "excluded_blank_ids",
            "excluded_duplicates",
            "excluded_by_where",
        ]
        .into_iter()
        .filter(|c| {
            a.batch
                .column_by_name(c)
                .and_then(|col| col.as_primitive_opt::<arrow::datatypes::UInt64Type>())
                .is_some_and(|col| col.value(0) > 0)
        });
        let columns: Vec<&str> = ["rows_in", "accepted", "rejected"]
            .into_iter()
            .chain(excluded)
            .chain(["duplicate_rows", "distinct_contacts", "ts_min", "ts_max"])
            .collect();
        h.push_str(&table(a, Some(&columns), words));
    }
    h.push_str(&figures(
        drawn,
        &[
            Chart::MonthlyVolume,
            Chart::ValueHistogram,
            Chart::ValueBoxplot,
            Chart::TimeBands,
            Chart::DayTypes,
        ],
    ));
    h.push_str("</section>\n");

    h.push_str("<section id=\"k\"><h2>Choosing K</h2>");
    if let Some(d) = &src.decision {
        let _ = write!(
            h,
            "<p class=\"decision\"><strong>K = {}</strong> by the rule <code>{}</code>: {}</p>",
            names.len(),
            escape(&d.rule),
            escape(&d.reason)
        );
    } else {
        let _ = write!(
            h,
            "<p class=\"decision\">{}</p>",
            escape(&value_of(summary, "k_reason").unwrap_or_default())
        );
    }
    if let Some(s) = src.get("k_scores") {
        h.push_str(&table(
            s,
            Some(&[
                "k",
                "inertia",
                "inertia_drop_pct",
                "silhouette",
                "davies_bouldin",
                "calinski_harabasz",
                "sizes",
                "knee",
                "gap",
                "gap_s",
            ]),
            words,
        ));
    }
    h.push_str(&figures(
        drawn,
        &[
            Chart::KInertia,
            Chart::KSilhouette,
            Chart::KDaviesBouldin,
            Chart::KCalinskiHarabasz,
        ],
    ));
    h.push_str("</section>\n");

    h.push_str("<section id=\"segments\"><h2>Segments</h2><div class=\"cards\">");
    let (shares, sizes) = (
        policy.float_column("share")?,
        policy.float_column("n_contacts")?,
    );
    let col = |name: &str| strings(policy, name);
    let (uses, rules, patterns, why) = (
        col("decision_use")?,
        col("operational_rule")?,
        col("typical_pattern")?,
        col("naming_rule")?,
    );
    let (narratives, distinguishing) = (
        strings(findings, "narrative")?,
        strings(findings, "distinguishing")?,
    );
    for (c, name) in names.iter().enumerate() {
        let color = crate::charts::segment_color(c);
        let mut context = String::new();
        for m in &mixes {
            let (column, text) = mix_table::card_line(m, c, entity);
            let _ = write!(
                context,
                "<dt>{}</dt><dd>{}</dd>",
                escape(&column),
                escape(&text)
            );
        }
        let _ = write!(
            h,
            "<article class=\"card\" style=\"--segment: rgb({},{},{})\"><h3>{}</h3><div class=\"size\">{} · {:.1} %</div><p>{}</p><dl><dt>Decision use</dt><dd>{}</dd><dt>Operational rule</dt><dd>{}</dd><dt>Typical pattern</dt><dd>{}</dd><dt>Distinguishing features</dt><dd>{}</dd>{context}<dt>Why this name</dt><dd>{}</dd></dl></article>",
            color.0,
            color.1,
            color.2,
            escape(name),
            escape(&entity.count(sizes[c] as u64)),
            shares[c] * 100.0,
            escape(&narratives[c]),
            escape(&uses[c]),
            escape(&rules[c]),
            escape(&patterns[c]),
            escape(&distinguishing[c]),
            escape(&why[c]),
        );
    }
    h.push_str("</div>");
    if policy.batch.column_by_name("channel").is_some() {
        h.push_str("<h3>Campaigns</h3>");
        h.push_str(&table(
            policy,
            Some(&[
                "segment",
                "n_contacts",
                "channel",
                "message",
                "owner",
                "expected_close_rate",
                "deal_size",
            ]),
            words,
        ));
    }
    if let Some(impact) = src.get("impact") {
        h.push_str("<h3>Expected impact — a projection from configured close rates and deal sizes, not a measurement</h3>");
        h.push_str(&table(
            impact,
            Some(&[
                "segment",
                "n_contacts",
                "expected_close_rate",
                "deal_size",
                "expected_closes",
                "expected_revenue",
                "baseline_revenue",
                "uplift",
                "currency",
            ]),
            words,
        ));
        if let Ok(basis) = strings(impact, "basis")
            && let Some(first) = basis.first()
        {
            let _ = write!(h, "<p><em>{}</em></p>", escape(first));
        }
    }
    if !mixes.is_empty() {
        let _ = write!(
            h,
            "<h3 id=\"mix\">What the segments are made of</h3><p>Context columns describe the segments without shaping them: each segment's share per category beside all {}.</p>",
            escape(&entity.plural)
        );
        h.push_str(&mix_table::section(&mixes, &names, entity));
    }
    h.push_str("<h3>Segment cards</h3>");
    h.push_str(&table(src.need("cards")?, None, words));
    h.push_str("<h3>Fit summary</h3>");
    h.push_str(&table(summary, Some(&["metric", "value"]), words));
    h.push_str(&figures(
        drawn,
        &[
            Chart::PcaScatter,
            Chart::Silhouette,
            Chart::SegmentSizes,
            Chart::ProfileHeatmap,
        ],
    ));
    h.push_str("</section>\n");

    h.push_str("<section id=\"robustness\"><h2>Robustness</h2>");
    if let Some(v) = src.get("verdict") {
        h.push_str(&table(v, Some(&["check", "band", "reading"]), words));
    } else {
        h.push_str("<p>No robustness stage ran for this report.</p>");
    }
    if let Some(b) = src.get("block_sensitivity") {
        h.push_str("<h3>Drop-one-block sensitivity</h3>");
        h.push_str(&table(b, None, words));
    }
    if let Some(b) = src.get("bootstrap") {
        h.push_str("<h3>Bootstrap stability per segment</h3>");
        h.push_str(&table(
            b,
            Some(&[
                "segment",
                "resamples",
                "mean_jaccard",
                "min_jaccard",
                "median_jaccard",
                "dissolved",
                "recovered",
                "band",
            ]),
            words,
        ));
    }
    h.push_str(&figures(drawn, &[Chart::SeedStability, Chart::Bootstrap]));
    h.push_str("</section>\n");

    h.push_str("<section id=\"limitations\"><h2>Limitations</h2><ul>");
    for l in limitations(src, params, words, pca_ratios) {
        let _ = write!(h, "<li>{}</li>", escape(&l));
    }
    h.push_str("</ul></section>\n");
    let _ = write!(
        h,
        "<footer>Written by segflow {}. Every number comes from the run's Parquet artifacts, whose provenance (params, input hashes, seed) is in their metadata; <code>segflow verify</code> checks them against the lock file.</footer>\n<script>{RENDER_CHECK}</script>\n</body>\n</html>\n",
        segflow_core::TOOL_VERSION
    );
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_numbers_keep_four_digits() {
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(number(26086.981573), "26087");
        assert_eq!(number(0.589087), "0.5891");
        assert_eq!(number(12.3456), "12.35");
        assert_eq!(number(2091.0), "2091");
    }
}
