//! The categorical attributes of a generated lead (`segflow synth leads --attributes`):
//! industry, region, lead source, two yes/no flags, and whether the lead converted. Each
//! planted segment has its own mix of every attribute, and its own conversion rate, so the
//! outcome a pipeline keeps as context differs between the segments it finds.

use rand_xoshiro::Xoshiro256PlusPlus;

use crate::leads::{pick, uniform};

pub const ATTRIBUTE_COLUMNS: [&str; 6] = [
    "industry",
    "region",
    "lead_source",
    "requested_demo",
    "newsletter",
    "converted",
];

const INDUSTRIES: [&str; 6] = [
    "Software",
    "Finance",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Education",
];
const REGIONS: [&str; 4] = ["North America", "Europe", "APAC", "LATAM"];
const SOURCES: [&str; 5] = [
    "Organic search",
    "Paid ads",
    "Referral",
    "Event",
    "Outbound",
];

/// How one planted segment's attributes are drawn.
struct Mix {
    industry: [f64; 6],
    region: [f64; 4],
    source: [f64; 5],
    demo: f64,
    newsletter: f64,
    /// Conversion rate without and with a requested demo.
    converts: (f64, f64),
}

/// In the order of `LEAD_SEGMENTS`.
const MIXES: [Mix; 5] = [
    // High-value enterprise: finance and manufacturing, met at events and by outbound.
    Mix {
        industry: [0.20, 0.30, 0.15, 0.05, 0.25, 0.05],
        region: [0.50, 0.35, 0.10, 0.05],
        source: [0.10, 0.05, 0.20, 0.35, 0.30],
        demo: 0.60,
        newsletter: 0.30,
        converts: (0.20, 0.40),
    },
    // SMB quick closers: software and retail, from search and ads.
    Mix {
        industry: [0.45, 0.10, 0.05, 0.30, 0.05, 0.05],
        region: [0.40, 0.30, 0.20, 0.10],
        source: [0.40, 0.35, 0.15, 0.05, 0.05],
        demo: 0.45,
        newsletter: 0.50,
        converts: (0.35, 0.55),
    },
    // Tire kickers: students and browsers, from ads.
    Mix {
        industry: [0.15, 0.05, 0.10, 0.15, 0.05, 0.50],
        region: [0.25, 0.25, 0.25, 0.25],
        source: [0.30, 0.55, 0.05, 0.05, 0.05],
        demo: 0.05,
        newsletter: 0.70,
        converts: (0.02, 0.05),
    },
    // Mid-market nurture: a bit of everything.
    Mix {
        industry: [0.25, 0.20, 0.20, 0.15, 0.15, 0.05],
        region: [0.35, 0.35, 0.20, 0.10],
        source: [0.30, 0.20, 0.25, 0.15, 0.10],
        demo: 0.25,
        newsletter: 0.60,
        converts: (0.10, 0.20),
    },
    // Churn risk: established accounts, first met by outbound and referrals.
    Mix {
        industry: [0.20, 0.25, 0.25, 0.10, 0.15, 0.05],
        region: [0.40, 0.40, 0.15, 0.05],
        source: [0.05, 0.05, 0.35, 0.15, 0.40],
        demo: 0.10,
        newsletter: 0.15,
        converts: (0.04, 0.10),
    },
];

fn yes_no(yes: bool) -> String {
    if yes { "Yes" } else { "No" }.to_string()
}

/// One lead's attributes as CSV fields, for the planted segment `segment`.
pub fn attributes(rng: &mut Xoshiro256PlusPlus, segment: usize) -> [String; 6] {
    let m = &MIXES[segment];
    let industry = INDUSTRIES[pick(rng, &m.industry)];
    let region = REGIONS[pick(rng, &m.region)];
    let source = SOURCES[pick(rng, &m.source)];
    let demo = uniform(rng) < m.demo;
    let newsletter = uniform(rng) < m.newsletter;
    let rate = if demo { m.converts.1 } else { m.converts.0 };
    let converted = uniform(rng) < rate;
    [
        industry.to_string(),
        region.to_string(),
        source.to_string(),
        yes_no(demo),
        yes_no(newsletter),
        yes_no(converted),
    ]
}
