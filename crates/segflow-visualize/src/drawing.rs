//! Each chart drawn from its artifacts, with the caption the report shows under it.

use arrow::array::AsArray;

use segflow_core::artifact::META_SILHOUETTE;
use segflow_core::nouns::{Noun, capitalized};
use segflow_core::{Error, Result};

use crate::binning::{self, Scale};
use crate::study_time::StudyTime;
use crate::{Chart, Params, PcaPicture, Sources, charts, clusters, strings};

/// A drawn chart: what the report shows under it.
pub struct Drawn {
    pub chart: Chart,
    pub svg: String,
    pub caption: String,
}

/// A chart's SVG and its caption.
type Figure = (String, String);

pub fn draw(chart: Chart, src: &Sources, params: &Params, pca: &PcaPicture) -> Result<Drawn> {
    let events = &params.nouns.event;
    let (svg, caption) = match chart {
        Chart::MonthlyVolume => monthly_volume(src, params)?,
        Chart::ValueHistogram => value_histogram(src, params)?,
        Chart::ValueBoxplot => value_boxplot(src, params)?,
        Chart::TimeBands => event_shares(
            src,
            params,
            "audit_time_bands",
            "band",
            &format!("{} by time band", capitalized(&events.plural)),
        )?,
        Chart::DayTypes => event_shares(
            src,
            params,
            "audit_day_types",
            "day_type",
            &format!("{} on open and closed days", capitalized(&events.plural)),
        )?,
        Chart::KInertia => k_curve(
            src,
            "inertia",
            "Inertia versus K",
            "lower is tighter; look for the elbow",
        )?,
        Chart::KSilhouette => {
            k_curve(src, "silhouette", "Silhouette versus K", "higher is better")?
        }
        Chart::KDaviesBouldin => k_curve(
            src,
            "davies_bouldin",
            "Davies–Bouldin versus K",
            "lower is better",
        )?,
        Chart::KCalinskiHarabasz => k_curve(
            src,
            "calinski_harabasz",
            "Calinski–Harabasz versus K",
            "higher is better",
        )?,
        Chart::PcaScatter => pca_scatter(pca, params)?,
        Chart::Silhouette => silhouette(src, params)?,
        Chart::SegmentSizes => segment_sizes(src, params)?,
        Chart::ProfileHeatmap => profile_heatmap(src, params)?,
        Chart::SeedStability => seed_stability(src)?,
        Chart::Bootstrap => bootstrap(src)?,
    };
    Ok(Drawn {
        chart,
        svg,
        caption,
    })
}

fn monthly_volume(src: &Sources, params: &Params) -> Result<Figure> {
    let a = src.need("audit_monthly")?;
    let time = StudyTime::of_run(src.get("events"), src.get("audit_summary"));
    let months: Vec<String> = strings(a, "month")?.iter().map(|m| time.month(m)).collect();
    let events = a.float_column("events")?;
    let noun = &params.nouns.event;
    Ok((
        charts::bars(
            &format!("{} per month", capitalized(&noun.plural)),
            &noun.plural,
            &months,
            &events,
            None,
        )?,
        format!(
            "{}, {} in total.",
            Noun::new("month", "months").count(months.len() as u64),
            noun.count(events.iter().sum::<f64>() as u64)
        ),
    ))
}

fn value_histogram(src: &Sources, params: &Params) -> Result<Figure> {
    let values = src.need("events")?.float_column("value")?;
    let label = params.value_axis();
    let h = binning::histogram(&values, params.histogram_bins);
    let events = params.nouns.event.count(values.len() as u64);
    let bins = params.histogram_bins;
    let caption = match h.scale {
        Scale::Linear => format!("{events} in {bins} equal-width bins."),
        Scale::Log => format!(
            "{events} in {bins} bins of equal width on a logarithmic scale, log10(1 + value): the values are heavy-tailed (none below 0, skewness {:.1} > {}), so equal-width bins would put most of them in the first bars.",
            h.skewness,
            binning::HEAVY_TAIL_SKEWNESS
        ),
    };
    Ok((
        charts::histogram(&format!("Distribution of {label}"), &label, &h)?,
        caption,
    ))
}

fn value_boxplot(src: &Sources, params: &Params) -> Result<Figure> {
    let values = src.need("events")?.float_column("value")?;
    let label = params.value_axis();
    Ok((
        charts::boxplot(&format!("Box plot of {label}"), &label, &values)?,
        "Box: quartiles and median; whiskers: 1.5 × IQR; dots: values beyond (one per pixel column).".into(),
    ))
}

/// Events per label of an audit table, captioned with each label's share.
fn event_shares(
    src: &Sources,
    params: &Params,
    kind: &str,
    column: &str,
    title: &str,
) -> Result<Figure> {
    let a = src.need(kind)?;
    let labels = strings(a, column)?;
    let events = a.float_column("events")?;
    let total: f64 = events.iter().sum();
    let shares: Vec<String> = labels
        .iter()
        .zip(&events)
        .map(|(l, e)| format!("{l} {:.1} %", e / total * 100.0))
        .collect();
    Ok((
        charts::bars(title, &params.nouns.event.plural, &labels, &events, None)?,
        format!("{}.", shares.join(", ")),
    ))
}

/// One index of select_k's scores against K, with the chosen K marked.
fn k_curve(src: &Sources, column: &str, title: &str, better: &str) -> Result<Figure> {
    let scores = src.need("k_scores")?;
    let ks: Vec<f64> = scores.float_column("k")?;
    let ys = scores.float_column(column)?;
    let chosen = src
        .decision
        .as_ref()
        .ok_or_else(|| Error::Internal("decision checked before drawing".into()))?
        .k as f64;
    let points: Vec<(f64, f64)> = ks.iter().copied().zip(ys).collect();
    Ok((
        charts::line(
            title,
            "K",
            column,
            &points,
            Some((chosen, format!("chosen K = {chosen}"))),
        )?,
        format!("{column} for each K ({better}); the vertical line marks the chosen K."),
    ))
}

fn pca_scatter(p: &PcaPicture, params: &Params) -> Result<Figure> {
    let entities = &params.nouns.entity;
    let title = format!(
        "{} on the first two principal components",
        capitalized(&entities.plural)
    );
    let axes = (
        &format!("PC1 ({:.1} % of variance)", p.ratios[0] * 100.0),
        &format!("PC2 ({:.1} % of variance)", p.ratios[1] * 100.0),
    );
    let loadings = format!(
        "PC1 ≈ {}; PC2 ≈ {}. Interpretation only: the segments were fitted in all model dimensions.",
        p.top_loadings[0], p.top_loadings[1]
    );
    if p.contacts.len() <= binning::POINTS_DRAWN_ONE_BY_ONE {
        return Ok((
            charts::scatter(&title, (axes.0, axes.1), &p.contacts, &p.centroids)?,
            format!("Crosses are segment centroids. {loadings}"),
        ));
    }
    let grid = binning::DENSITY_GRID;
    let (svg, cells) = charts::density(
        &format!("{title}, density"),
        (axes.0, axes.1),
        &p.contacts,
        &p.centroids,
        grid,
    )?;
    Ok((
        svg,
        format!(
            "{} {} are drawn as a density (above {} points, one mark per {} would make the report too large): the plane is cut into {} × {} cells, and each of the {cells} occupied cells takes the colour of its most common segment, more opaque the more {} it holds (logarithmic shading). Crosses are segment centroids. {loadings}",
            thousands(p.contacts.len()),
            entities.plural,
            thousands(binning::POINTS_DRAWN_ONE_BY_ONE),
            entities.singular,
            grid.0,
            grid.1,
            entities.plural
        ),
    ))
}

/// A count with commas between thousands (5,000).
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

fn silhouette(src: &Sources, params: &Params) -> Result<Figure> {
    let entity = &params.nouns.entity;
    let a = src.need("assignments")?;
    let labels = clusters(a)?;
    let s = a.float_column("silhouette")?;
    let names = strings(src.need("policy")?, "segment")?;
    // Noise has no silhouette: only clustered contacts are drawn.
    let scored: Vec<(usize, f64)> = labels
        .iter()
        .copied()
        .zip(s.iter().copied())
        .filter(|(l, v)| *l != charts::NOISE_ID && !v.is_nan())
        .collect();
    let mean = scored.iter().map(|v| v.1).sum::<f64>() / scored.len() as f64;
    let negative = scored.iter().filter(|v| v.1 < 0.0).count();
    let step = binning::outline_step(scored.len());
    let mut caption = format!(
        "Mean silhouette {mean:.3}; {} below 0 {} closer to another segment.",
        entity.count(negative as u64),
        if negative == 1 { "sits" } else { "sit" }
    );
    // fit scores a seeded sample instead of every contact above its exact threshold.
    let sampled = a
        .meta(META_SILHOUETTE)
        .and_then(|m| m.strip_prefix("sampled: "));
    if let Some(how) = sampled {
        caption.push_str(&format!(
            " Silhouettes of a seeded sample of {} ({how}), each scored within the sample.",
            entity.plural
        ));
    }
    if step > 1 {
        caption.push_str(&format!(
            " Above {} {}, each segment's outline passes through one in {step} of its sorted values.",
            thousands(binning::POINTS_DRAWN_ONE_BY_ONE),
            entity.plural
        ));
    }
    Ok((
        charts::silhouette(
            &match sampled {
                None => format!("Silhouette of every {}, by segment", entity.singular),
                Some(_) => format!("Silhouette of sampled {}, by segment", entity.plural),
            },
            &scored,
            &names,
            mean,
            step,
        )?,
        caption,
    ))
}

fn segment_sizes(src: &Sources, params: &Params) -> Result<Figure> {
    let entity = &params.nouns.entity;
    let p = src.need("policy")?;
    let names = strings(p, "segment")?;
    let sizes = p.float_column("n_contacts")?;
    let colors: Vec<_> = (0..names.len()).map(charts::segment_color).collect();
    Ok((
        charts::bars(
            &format!("{} per segment", capitalized(&entity.plural)),
            &entity.plural,
            &names,
            &sizes,
            Some(&colors),
        )?,
        "Segments in canonical order, largest first.".into(),
    ))
}

fn profile_heatmap(src: &Sources, params: &Params) -> Result<Figure> {
    let p = src.need("profile")?;
    let model: Vec<bool> = p
        .column("model_input")?
        .as_boolean_opt()
        .map(|b| (0..b.len()).map(|i| b.value(i)).collect())
        .unwrap_or_default();
    let (cl, features, diffs) = (
        clusters(p)?,
        strings(p, "feature")?,
        p.float_column("std_diff")?,
    );
    let names = strings(src.need("policy")?, "segment")?;
    let rows = model_features(&features, &model);
    let value = |r: usize, c: usize| {
        (0..features.len())
            .find(|&i| cl[i] == c && features[i] == rows[r])
            .map_or(f64::NAN, |i| diffs[i])
    };
    Ok((
        charts::heatmap(
            &format!(
                "Standardized difference of each segment from all {}",
                params.nouns.entity.plural
            ),
            &rows,
            &names,
            &value,
            2.0,
        )?,
        "(segment mean − overall mean) / overall standard deviation, per model feature; red above, blue below, saturated at ±2.".into(),
    ))
}

/// The profile's model features, each once, in first-seen order.
fn model_features(features: &[String], model: &[bool]) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for (i, f) in features.iter().enumerate() {
        if model.get(i) == Some(&true) && !rows.contains(f) {
            rows.push(f.clone());
        }
    }
    rows
}

fn seed_stability(src: &Sources) -> Result<Figure> {
    let a = src.need("seed_stability")?;
    let seeds = a.float_column("seed")?;
    let aris = a.float_column("ari")?;
    let points: Vec<(f64, f64)> = seeds.into_iter().zip(aris.iter().copied()).collect();
    let min = aris.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((
        charts::line(
            "Seed stability: ARI against the fit",
            "seed",
            "ARI",
            &points,
            None,
        )?,
        format!(
            "{} refits with other seeds; lowest ARI {min:.3}.",
            points.len()
        ),
    ))
}

fn bootstrap(src: &Sources) -> Result<Figure> {
    let a = src.need("bootstrap")?;
    let names = strings(a, "segment")?;
    let (mean, lo, hi) = (
        a.float_column("mean_jaccard")?,
        a.float_column("min_jaccard")?,
        a.float_column("max_jaccard")?,
    );
    let stats: Vec<(f64, f64, f64)> = (0..names.len()).map(|i| (mean[i], lo[i], hi[i])).collect();
    Ok((
        charts::bars_with_range(
            "Bootstrap stability per segment",
            "Jaccard",
            &names,
            &stats,
            &[
                (0.75, "stable from", charts::GOOD),
                (0.6, "doubtful below", charts::WARN),
                (0.5, "dissolved at or below", charts::BAD),
            ],
        )?,
        "Bars: mean best Jaccard over the resamples; whiskers: lowest to highest.".into(),
    ))
}
