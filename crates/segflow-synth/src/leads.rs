//! A lead table: one row per lead, 12 numeric features on mixed scales (bounded scores and
//! rates, counts, heavy-tailed sizes and amounts), a few blanks, and five planted segments of
//! unequal size whose labels go to a separate truth file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use rand_distr::{Beta, Distribution, Gamma, LogNormal, Normal, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{Rng, SeedableRng};

use segflow_core::{Error, Result};

use crate::lead_attributes::{self, ATTRIBUTE_COLUMNS};

/// Mixed into the seed for the attributes' random stream.
const ATTRIBUTE_STREAM: u64 = 0x6c65_6164_5f61_7474;

/// Planted segments and their shares of the leads.
pub const LEAD_SEGMENTS: [(&str, f64); 5] = [
    ("high_value_enterprise", 0.17),
    ("smb_quick_closer", 0.25),
    ("tire_kicker", 0.18),
    ("mid_market_nurture", 0.29),
    ("churn_risk", 0.11),
];

const COLUMNS: [&str; 12] = [
    "engagement_score",
    "company_size",
    "website_traffic",
    "email_open_rate",
    "linkedin_connections",
    "pricing_page_visits",
    "time_on_site",
    "pages_viewed",
    "revenue_potential",
    "location_fit",
    "industry_fit",
    "decision_maker_level",
];

/// How one planted segment behaves.
struct Profile {
    engagement: (f64, f64),
    /// Medians and log-sd of the heavy-tailed columns.
    company_size: (f64, f64),
    traffic: (f64, f64),
    connections: (f64, f64),
    revenue: (f64, f64),
    open_rate: (f64, f64),
    pricing_visits: f64,
    time_on_site: (f64, f64),
    pages: f64,
    location_fit: (f64, f64),
    industry_fit: (f64, f64),
    /// Probabilities of decision-maker levels 1..=5.
    level: [f64; 5],
}

const PROFILES: [Profile; 5] = [
    // High-value enterprise: large, rich, senior, well-fitting.
    Profile {
        engagement: (65.0, 6.0),
        company_size: (3000.0, 0.30),
        traffic: (30000.0, 0.38),
        connections: (4000.0, 0.30),
        revenue: (400_000.0, 0.30),
        open_rate: (9.0, 6.0),
        pricing_visits: 5.0,
        time_on_site: (6.0, 2.5),
        pages: 12.0,
        location_fit: (13.5, 3.0),
        industry_fit: (13.5, 3.0),
        level: [0.02, 0.08, 0.20, 0.35, 0.35],
    },
    // SMB quick closers: small, very engaged, on the pricing page.
    Profile {
        engagement: (88.0, 3.8),
        company_size: (20.0, 0.30),
        traffic: (2000.0, 0.38),
        connections: (300.0, 0.38),
        revenue: (12_000.0, 0.30),
        open_rate: (18.0, 4.5),
        pricing_visits: 12.0,
        time_on_site: (5.0, 2.0),
        pages: 9.0,
        location_fit: (9.0, 4.5),
        industry_fit: (7.5, 4.5),
        level: [0.05, 0.15, 0.30, 0.30, 0.20],
    },
    // Tire kickers: browse a lot, open little, never price, poor fit.
    Profile {
        engagement: (25.0, 5.2),
        company_size: (30.0, 0.45),
        traffic: (6000.0, 0.38),
        connections: (100.0, 0.45),
        revenue: (4_000.0, 0.45),
        open_rate: (2.2, 15.0),
        pricing_visits: 0.3,
        time_on_site: (8.0, 2.5),
        pages: 20.0,
        location_fit: (3.0, 9.0),
        industry_fit: (3.0, 9.0),
        level: [0.50, 0.30, 0.15, 0.04, 0.01],
    },
    // Mid-market nurture: the middle on every count.
    Profile {
        engagement: (55.0, 5.2),
        company_size: (300.0, 0.30),
        traffic: (8000.0, 0.38),
        connections: (900.0, 0.30),
        revenue: (60_000.0, 0.30),
        open_rate: (7.5, 7.5),
        pricing_visits: 3.0,
        time_on_site: (5.0, 1.6),
        pages: 7.0,
        location_fit: (7.5, 4.5),
        industry_fit: (9.0, 4.5),
        level: [0.15, 0.30, 0.30, 0.20, 0.05],
    },
    // Churn risk: sizeable accounts that went quiet.
    Profile {
        engagement: (15.0, 4.5),
        company_size: (500.0, 0.38),
        traffic: (1000.0, 0.45),
        connections: (600.0, 0.38),
        revenue: (80_000.0, 0.38),
        open_rate: (2.2, 18.0),
        pricing_visits: 0.5,
        time_on_site: (2.0, 0.8),
        pages: 2.0,
        location_fit: (7.5, 7.5),
        industry_fit: (6.0, 6.0),
        level: [0.20, 0.30, 0.30, 0.15, 0.05],
    },
];

/// Share of blanks in the columns a CRM export tends to leave empty.
const BLANK_SHARE: f64 = 0.005;
const SOMETIMES_BLANK: [usize; 3] = [3, 6, 8];

pub(crate) fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

pub(crate) fn pick(rng: &mut Xoshiro256PlusPlus, probabilities: &[f64]) -> usize {
    let u = uniform(rng);
    let mut cumulative = 0.0;
    for (i, p) in probabilities.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return i;
        }
    }
    probabilities.len() - 1
}

fn bad(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("lead generator parameters: {e}"))
}

/// One lead's 12 values as CSV fields (blank = missing).
fn lead(rng: &mut Xoshiro256PlusPlus, p: &Profile) -> Result<[String; 12]> {
    let normal = |rng: &mut Xoshiro256PlusPlus, (m, s): (f64, f64)| -> Result<f64> {
        Ok(Normal::new(m, s).map_err(bad)?.sample(rng))
    };
    let lognormal = |rng: &mut Xoshiro256PlusPlus, (median, sd): (f64, f64)| -> Result<f64> {
        Ok(LogNormal::new(median.ln(), sd).map_err(bad)?.sample(rng))
    };
    let beta = |rng: &mut Xoshiro256PlusPlus, (a, b): (f64, f64)| -> Result<f64> {
        Ok(Beta::new(a, b).map_err(bad)?.sample(rng))
    };
    let poisson = |rng: &mut Xoshiro256PlusPlus, l: f64| -> Result<f64> {
        Ok(Poisson::new(l).map_err(bad)?.sample(rng))
    };
    let engagement = normal(rng, p.engagement)?.clamp(0.0, 100.0);
    let size = lognormal(rng, p.company_size)?.round().max(1.0);
    let traffic = lognormal(rng, p.traffic)?.round();
    let open_rate = beta(rng, p.open_rate)?;
    let connections = lognormal(rng, p.connections)?.round();
    let pricing = poisson(rng, p.pricing_visits)?;
    let (shape, scale) = p.time_on_site;
    let time = Gamma::new(shape, scale).map_err(bad)?.sample(rng);
    let pages = poisson(rng, p.pages)?.max(1.0);
    let revenue = lognormal(rng, p.revenue)?.round();
    let location = beta(rng, p.location_fit)?;
    let industry = beta(rng, p.industry_fit)?;
    let level = pick(rng, &p.level) + 1;
    let mut fields = [
        format!("{engagement:.1}"),
        format!("{size:.0}"),
        format!("{traffic:.0}"),
        format!("{open_rate:.3}"),
        format!("{connections:.0}"),
        format!("{pricing:.0}"),
        format!("{time:.1}"),
        format!("{pages:.0}"),
        format!("{revenue:.0}"),
        format!("{location:.3}"),
        format!("{industry:.3}"),
        level.to_string(),
    ];
    for &c in &SOMETIMES_BLANK {
        if uniform(rng) < BLANK_SHARE {
            fields[c].clear();
        }
    }
    Ok(fields)
}

/// Writes `rows` leads to `output` and their planted segments to `truth` (both atomically);
/// with `attributes`, each lead also gets the categorical columns of `lead_attributes`.
/// Returns the number of leads per planted segment.
pub fn write_leads(
    rows: u64,
    seed: u64,
    attributes: bool,
    output: &Path,
    truth: &Path,
) -> Result<Vec<u64>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    // The attributes draw from a stream of their own, so the numeric columns are the same
    // bytes with or without them.
    let mut attribute_rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ ATTRIBUTE_STREAM);
    let shares: Vec<f64> = LEAD_SEGMENTS.iter().map(|s| s.1).collect();
    let width = rows.max(1).to_string().len().max(6);
    let (data_tmp, truth_tmp) = (temp(output), temp(truth));
    let result = (|| {
        let mut data =
            BufWriter::new(File::create(&data_tmp).map_err(|e| Error::io(&data_tmp, e))?);
        let mut labels =
            BufWriter::new(File::create(&truth_tmp).map_err(|e| Error::io(&truth_tmp, e))?);
        fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
            move |e| Error::io(path, e)
        }
        let mut header = COLUMNS.to_vec();
        if attributes {
            header.extend(ATTRIBUTE_COLUMNS);
        }
        writeln!(data, "lead_id,{}", header.join(",")).map_err(io(output))?;
        writeln!(labels, "lead_id,segment").map_err(io(truth))?;
        let mut counts = vec![0u64; LEAD_SEGMENTS.len()];
        for i in 1..=rows {
            let s = pick(&mut rng, &shares);
            counts[s] += 1;
            let id = format!("L{i:0width$}");
            let mut fields = lead(&mut rng, &PROFILES[s])?.to_vec();
            if attributes {
                fields.extend(lead_attributes::attributes(&mut attribute_rng, s));
            }
            writeln!(data, "{id},{}", fields.join(",")).map_err(io(output))?;
            writeln!(labels, "{id},{}", LEAD_SEGMENTS[s].0).map_err(io(truth))?;
        }
        data.into_inner()
            .map_err(|e| Error::io(output, e.into_error()))?
            .sync_all()
            .map_err(io(output))?;
        labels
            .into_inner()
            .map_err(|e| Error::io(truth, e.into_error()))?
            .sync_all()
            .map_err(io(truth))?;
        std::fs::rename(&data_tmp, output).map_err(io(output))?;
        std::fs::rename(&truth_tmp, truth).map_err(io(truth))?;
        Ok(counts)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&data_tmp);
        let _ = std::fs::remove_file(&truth_tmp);
    }
    result
}

fn temp(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_bytes_and_shares_follow_the_plan() {
        let dir = std::env::temp_dir().join(format!("segflow-synth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, at, b, bt) = (
            dir.join("a.csv"),
            dir.join("a.truth.csv"),
            dir.join("b.csv"),
            dir.join("b.truth.csv"),
        );
        let counts = write_leads(4000, 7, false, &a, &at).unwrap();
        write_leads(4000, 7, false, &b, &bt).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert_eq!(std::fs::read(&at).unwrap(), std::fs::read(&bt).unwrap());
        for (count, (_, share)) in counts.iter().zip(LEAD_SEGMENTS) {
            let observed = *count as f64 / 4000.0;
            assert!((observed - share).abs() < 0.03, "{observed} vs {share}");
        }
        let text = std::fs::read_to_string(&a).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4001);
        assert!(lines.iter().all(|l| l.split(',').count() == 13));
        assert!(text.contains(",,"), "a few blanks");

        // The attributes come after the same numeric columns, and converted follows the
        // planted segment: SMB quick closers convert far more often than tire kickers.
        let (c, ct) = (dir.join("c.csv"), dir.join("c.truth.csv"));
        write_leads(4000, 7, true, &c, &ct).unwrap();
        let with = std::fs::read_to_string(&c).unwrap();
        let truth = std::fs::read_to_string(&ct).unwrap();
        let mut converted = [(0u32, 0u32); 5];
        for ((plain, full), planted) in lines.iter().zip(with.lines()).zip(truth.lines()).skip(1) {
            assert!(full.starts_with(&format!("{plain},")), "{full}");
            let segment = LEAD_SEGMENTS
                .iter()
                .position(|s| planted.ends_with(s.0))
                .unwrap();
            converted[segment].0 += u32::from(full.ends_with(",Yes"));
            converted[segment].1 += 1;
        }
        let rate = |s: usize| f64::from(converted[s].0) / f64::from(converted[s].1);
        assert!(rate(1) > 0.3 && rate(2) < 0.1, "{converted:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
