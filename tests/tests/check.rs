//! The whole pipeline checked before anything runs: every shipped pipeline passes
//! `segflow check`, and one misspelled name in any section of any of them stops `segflow run`
//! with exit 78, the key, the nearest valid name, and no run directory.

use segflow_tests::*;

const PIPELINES: &[&str] = &["walsoft", "leads", "wholesale", "retail", "lead_outcomes"];

fn yaml(s: &str) -> yaml_serde::Value {
    yaml_serde::from_str(s).unwrap()
}

/// One misspelling: the pipeline, what the test calls the section, the edit, then the key
/// the error must name, the misspelled name and the suggestion it must give.
struct Typo {
    pipeline: &'static str,
    section: &'static str,
    edit: fn(&mut yaml_serde::Value),
    key: &'static str,
    wrong: &'static str,
    suggestion: &'static str,
}

fn assert_stops_before_any_artifact(typo: &Typo) {
    let name = format!("check-{}-{}", typo.pipeline, typo.section);
    let scratch = Scratch::new(&name);
    let pipeline = isolated_pipeline(typo.pipeline, scratch.path(), typo.edit);
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{name}: stderr was {err}");
    for expected in [
        typo.key.to_string(),
        format!("`{}`", typo.wrong),
        format!("did you mean `{}`", typo.suggestion),
    ] {
        assert!(
            err.contains(&expected),
            "{name}: `{expected}` not in: {err}"
        );
    }
    assert!(
        !scratch.path().join("run").exists(),
        "{name}: the run directory exists: {:?}",
        files_under(&scratch.path().join("run"))
    );
    let check = segflow(&["check", pipeline.to_str().unwrap()]);
    assert_eq!(
        check.status.code(),
        Some(78),
        "{name}: segflow check passed it"
    );
    assert!(
        stderr(&check).contains(typo.key),
        "{name}: {}",
        stderr(&check)
    );
}

#[test]
fn every_shipped_pipeline_passes_the_check() {
    for name in PIPELINES {
        let out = segflow(&["check", &format!("pipelines/{name}.yaml")]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with(&format!("{name}: OK")),
            "{name}: {stdout}"
        );
        assert_eq!(stdout.lines().count(), 1, "{name}: {stdout}");
    }
}

/// A table pipeline that leaves `charts` to its default draws the charts its artifacts allow
/// (no event log, so no monthly volume); one that declares a chart it cannot draw stops
/// before anything runs, naming the chart and what it is drawn from.
#[test]
fn charts_follow_the_artifacts_a_pipeline_writes() {
    let scratch = Scratch::new("check-default-charts");
    let pipeline = isolated_pipeline("wholesale", scratch.path(), |d| {
        d["stages"]["visualize"]
            .as_mapping_mut()
            .unwrap()
            .remove("charts");
        d["stages"]["robustness"]["seeds"] = yaml("3");
        d["stages"]["robustness"]["bootstrap"] = yaml("{resamples: 3, method: boot, n_init: 1}");
    });
    let check = segflow(&["check", pipeline.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let drawn = files_under(&scratch.path().join("run/visualize"));
    for chart in [
        "chart_pca_scatter.svg",
        "chart_k_inertia.svg",
        "report.html",
    ] {
        assert!(
            drawn.iter().any(|f| f.ends_with(chart)),
            "{chart}: {drawn:?}"
        );
    }
    for chart in [
        "monthly_volume",
        "value_histogram",
        "time_bands",
        "day_types",
    ] {
        assert!(
            !drawn.iter().any(|f| f.contains(chart)),
            "{chart}: {drawn:?}"
        );
    }

    let scratch = Scratch::new("check-undrawable-chart");
    let pipeline = isolated_pipeline("wholesale", scratch.path(), |d| {
        d["stages"]["visualize"]["charts"] = yaml("[pca_scatter, monthly_volume]")
    });
    for command in ["check", "run"] {
        let out = segflow(&[command, pipeline.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(78), "{command}: {err}");
        assert!(
            err.contains("stages.visualize.charts[1]")
                && err.contains("chart_monthly_volume is drawn from the audit_monthly artifact"),
            "{command}: {err}"
        );
        assert!(!scratch.path().join("run").exists(), "{command}");
    }
}

#[test]
fn a_typo_in_any_section_stops_the_run_before_anything_is_written() {
    let typos = [
        // walsoft: an event log (ingest events mode, derived features, default charts)
        Typo {
            pipeline: "walsoft",
            section: "features",
            edit: |d| {
                d["stages"]["features"]["blocks"]["volume"]["calls_per_active_day"] =
                    yaml("{ratio: {num: n_calls, den: n_days_activ}}")
            },
            key: "stages.features.blocks.volume.calls_per_active_day",
            wrong: "n_days_activ",
            suggestion: "n_days_active",
        },
        Typo {
            pipeline: "walsoft",
            section: "where",
            edit: |d| {
                d["stages"]["features"]["blocks"]["volume"]["n_calls"] =
                    yaml(r#"{count: {where: "vlaue > 0"}}"#)
            },
            key: "stages.features.blocks.volume.n_calls.where",
            wrong: "vlaue",
            suggestion: "value",
        },
        Typo {
            pipeline: "walsoft",
            section: "preprocess",
            edit: |d| d["stages"]["preprocess"]["log1p"] = yaml("[total_dur_se]"),
            key: "stages.preprocess.log1p[0]",
            wrong: "total_dur_se",
            suggestion: "total_dur_sec",
        },
        Typo {
            pipeline: "walsoft",
            section: "card",
            edit: |d| d["stages"]["fit"]["cards"]["spreads"][1] = yaml("total_dur_secs"),
            key: "stages.fit.cards.spreads[1]",
            wrong: "total_dur_secs",
            suggestion: "total_dur_sec",
        },
        Typo {
            pipeline: "walsoft",
            section: "naming",
            edit: |d| {
                d["stages"]["fit"]["naming"]["roles"][1]["by"][1] = yaml("{highest: n_contact}")
            },
            key: "stages.fit.naming.roles[1].by[1].highest",
            wrong: "n_contact",
            suggestion: "n_contacts",
        },
        Typo {
            pipeline: "walsoft",
            section: "narrative",
            edit: |d| {
                d["stages"]["fit"]["narrative"] = yaml("'A typical contact made {n_cals} calls.'")
            },
            key: "stages.fit.narrative",
            wrong: "n_cals",
            suggestion: "n_calls",
        },
        Typo {
            pipeline: "walsoft",
            section: "chart",
            edit: |d| d["stages"]["visualize"]["charts"] = yaml("[pca_scatter, k_inertai]"),
            key: "stages.visualize.charts[1]",
            wrong: "k_inertai",
            suggestion: "k_inertia",
        },
        // leads: a table (column features, log1p list, means cards)
        Typo {
            pipeline: "leads",
            section: "features",
            edit: |d| {
                d["stages"]["features"]["blocks"]["engagement"]["time_on_site"] =
                    yaml("{column: time_onsite}")
            },
            key: "stages.features.blocks.engagement.time_on_site.column",
            wrong: "time_onsite",
            suggestion: "time_on_site",
        },
        Typo {
            pipeline: "leads",
            section: "preprocess",
            edit: |d| d["stages"]["preprocess"]["log1p"][2] = yaml("linkedin_conections"),
            key: "stages.preprocess.log1p[2]",
            wrong: "linkedin_conections",
            suggestion: "linkedin_connections",
        },
        Typo {
            pipeline: "leads",
            section: "card",
            edit: |d| d["stages"]["fit"]["cards"]["stds"] = yaml("[email_open_rte]"),
            key: "stages.fit.cards.stds[0]",
            wrong: "email_open_rte",
            suggestion: "email_open_rate",
        },
        Typo {
            pipeline: "leads",
            section: "naming",
            edit: |d| {
                d["stages"]["fit"]["naming"]["roles"][0]["by"][0] =
                    yaml("{highest: revenue_potental}")
            },
            key: "stages.fit.naming.roles[0].by[0].highest",
            wrong: "revenue_potental",
            suggestion: "revenue_potential",
        },
        Typo {
            pipeline: "leads",
            section: "narrative",
            edit: |d| {
                d["stages"]["fit"]["narrative"] =
                    yaml("'A typical lead scores {engagement_scor} on engagement.'")
            },
            key: "stages.fit.narrative",
            wrong: "engagement_scor",
            suggestion: "engagement_score",
        },
        Typo {
            pipeline: "leads",
            section: "chart",
            edit: |d| d["stages"]["visualize"]["charts"][4] = yaml("pca_scater"),
            key: "stages.visualize.charts[4]",
            wrong: "pca_scater",
            suggestion: "pca_scatter",
        },
        // wholesale: a table without an id column, no naming or narrative of its own
        Typo {
            pipeline: "wholesale",
            section: "features",
            edit: |d| {
                d["stages"]["features"]["blocks"]["fresh_food"]["delicatessen"] =
                    yaml("{column: Delicatessen}")
            },
            key: "stages.features.blocks.fresh_food.delicatessen.column",
            wrong: "Delicatessen",
            suggestion: "Delicassen",
        },
        Typo {
            pipeline: "wholesale",
            section: "preprocess",
            edit: |d| d["stages"]["preprocess"]["log1p"][1] = yaml("mlk"),
            key: "stages.preprocess.log1p[1]",
            wrong: "mlk",
            suggestion: "milk",
        },
        Typo {
            pipeline: "wholesale",
            section: "card",
            edit: |d| d["stages"]["fit"]["cards"]["medians"][5] = yaml("detergent_paper"),
            key: "stages.fit.cards.medians[5]",
            wrong: "detergent_paper",
            suggestion: "detergents_paper",
        },
        Typo {
            pipeline: "wholesale",
            section: "naming",
            edit: |d| {
                d["stages"]["fit"]["naming"] = yaml(
                    "{roles: [{name: Grocers, by: [{highest: grocey}], action: \
                     {decision_use: a, operational_rule: b, typical_pattern: c}}]}",
                )
            },
            key: "stages.fit.naming.roles[0].by[0].highest",
            wrong: "grocey",
            suggestion: "grocery",
        },
        Typo {
            pipeline: "wholesale",
            section: "narrative",
            edit: |d| {
                d["stages"]["fit"]["narrative"] =
                    yaml("'{share_pct} % of clients; fresh food {frseh} a year.'")
            },
            key: "stages.fit.narrative",
            wrong: "frseh",
            suggestion: "fresh",
        },
        Typo {
            pipeline: "wholesale",
            section: "chart",
            edit: |d| d["stages"]["visualize"]["charts"][9] = yaml("bootstrp"),
            key: "stages.visualize.charts[9]",
            wrong: "bootstrp",
            suggestion: "bootstrap",
        },
        // retail: derived and kept event columns, conditions, category modes
        Typo {
            pipeline: "retail",
            section: "features",
            edit: |d| {
                d["stages"]["features"]["blocks"]["context"]["n_all_invoices"] =
                    yaml("{distinct: InvoiceN}")
            },
            key: "stages.features.blocks.context.n_all_invoices.of",
            wrong: "InvoiceN",
            suggestion: "InvoiceNo",
        },
        Typo {
            pipeline: "retail",
            section: "where",
            edit: |d| {
                d["stages"]["features"]["blocks"]["context"]["units"] =
                    yaml(r#"{sum: {of: Quantity, where: "NOT is_retrn"}}"#)
            },
            key: "stages.features.blocks.context.units.where",
            wrong: "is_retrn",
            suggestion: "is_return",
        },
        Typo {
            pipeline: "retail",
            section: "preprocess",
            edit: |d| d["stages"]["preprocess"]["columns"] = yaml("[recency_days, log_spent]"),
            key: "stages.preprocess.columns[1]",
            wrong: "log_spent",
            suggestion: "log_spend",
        },
        Typo {
            pipeline: "retail",
            section: "card",
            edit: |d| d["stages"]["fit"]["cards"]["any"][0] = yaml("returns_rate"),
            key: "stages.fit.cards.any[0]",
            wrong: "returns_rate",
            suggestion: "return_rate",
        },
        Typo {
            pipeline: "retail",
            section: "naming",
            edit: |d| {
                d["stages"]["fit"]["naming"]["roles"][2]["by"][0] = yaml("{highest: avg_baskt}")
            },
            key: "stages.fit.naming.roles[2].by[0].highest",
            wrong: "avg_baskt",
            suggestion: "avg_basket",
        },
        Typo {
            pipeline: "retail",
            section: "narrative",
            edit: |d| {
                d["stages"]["fit"]["narrative"] =
                    yaml("'A typical customer placed {n_invoice} orders.'")
            },
            key: "stages.fit.narrative",
            wrong: "n_invoice",
            suggestion: "n_invoices",
        },
        Typo {
            pipeline: "retail",
            section: "chart",
            edit: |d| d["stages"]["visualize"]["charts"][7] = yaml("profile_heatmp"),
            key: "stages.visualize.charts[7]",
            wrong: "profile_heatmp",
            suggestion: "profile_heatmap",
        },
        // lead_outcomes: encoded labels in the model, an outcome as context
        Typo {
            pipeline: "lead_outcomes",
            section: "features",
            edit: |d| {
                d["stages"]["features"]["blocks"]["outcome"]["converted"] =
                    yaml("{column: convertd}")
            },
            key: "stages.features.blocks.outcome.converted.column",
            wrong: "convertd",
            suggestion: "converted",
        },
        Typo {
            pipeline: "lead_outcomes",
            section: "preprocess",
            edit: |d| {
                let per_column = d["stages"]["preprocess"]["per_column"]
                    .as_mapping_mut()
                    .unwrap();
                let spec = per_column.remove("lead_source").unwrap();
                per_column.insert(yaml("lead_sorce"), spec);
            },
            key: "stages.preprocess.per_column.lead_sorce",
            wrong: "lead_sorce",
            suggestion: "lead_source",
        },
        Typo {
            pipeline: "lead_outcomes",
            section: "card",
            edit: |d| d["stages"]["fit"]["cards"]["medians"][0] = yaml("engagment_score"),
            key: "stages.fit.cards.medians[0]",
            wrong: "engagment_score",
            suggestion: "engagement_score",
        },
        Typo {
            pipeline: "lead_outcomes",
            section: "labels",
            edit: |d| d["stages"]["fit"]["labels"] = yaml("{convrted: {'Yes': Won}}"),
            key: "stages.fit.labels.convrted",
            wrong: "convrted",
            suggestion: "converted",
        },
        Typo {
            pipeline: "lead_outcomes",
            section: "chart",
            edit: |d| d["stages"]["visualize"]["charts"][4] = yaml("pca_scater"),
            key: "stages.visualize.charts[4]",
            wrong: "pca_scater",
            suggestion: "pca_scatter",
        },
    ];
    for typo in &typos {
        assert_stops_before_any_artifact(typo);
    }
}

#[test]
fn a_typo_in_an_ingest_reference_or_a_per_column_key_stops_the_run_before_anything_is_written() {
    let typos = [
        Typo {
            pipeline: "walsoft",
            section: "ingest-role",
            edit: |d| d["stages"]["ingest"]["columns"]["value"] = yaml("duration_in_second"),
            key: "stages.ingest.columns.value",
            wrong: "duration_in_second",
            suggestion: "duration_in_seconds",
        },
        Typo {
            pipeline: "walsoft",
            section: "ingest-drop",
            edit: |d| d["stages"]["ingest"]["privacy"]["drop"] = yaml("[nme]"),
            key: "stages.ingest.privacy.drop[0]",
            wrong: "nme",
            suggestion: "name",
        },
        Typo {
            pipeline: "walsoft",
            section: "per-column",
            edit: |d| d["stages"]["preprocess"]["per_column"] = yaml("{n_cals: {impute: mean}}"),
            key: "stages.preprocess.per_column.n_cals",
            wrong: "n_cals",
            suggestion: "n_calls",
        },
        Typo {
            pipeline: "leads",
            section: "ingest-id",
            edit: |d| d["stages"]["ingest"]["table"]["id"] = yaml("lead_di"),
            key: "stages.ingest.table.id",
            wrong: "lead_di",
            suggestion: "lead_id",
        },
        Typo {
            pipeline: "leads",
            section: "per-column",
            edit: |d| {
                d["stages"]["preprocess"]["per_column"] =
                    yaml("{company_sise: {impute: {constant: 0}}}")
            },
            key: "stages.preprocess.per_column.company_sise",
            wrong: "company_sise",
            suggestion: "company_size",
        },
        Typo {
            pipeline: "wholesale",
            section: "ingest-types",
            edit: |d| {
                d["stages"]["ingest"]["table"]["types"] = yaml("{Chanel: string, Region: string}")
            },
            key: "stages.ingest.table.types.Chanel",
            wrong: "Chanel",
            suggestion: "Channel",
        },
        Typo {
            pipeline: "wholesale",
            section: "per-column",
            edit: |d| d["stages"]["preprocess"]["per_column"] = yaml("{mlk: {impute: mean}}"),
            key: "stages.preprocess.per_column.mlk",
            wrong: "mlk",
            suggestion: "milk",
        },
        Typo {
            pipeline: "retail",
            section: "ingest-keep",
            edit: |d| d["stages"]["ingest"]["keep"] = yaml("[InvoiceNo, Quantiy]"),
            key: "stages.ingest.keep[1]",
            wrong: "Quantiy",
            suggestion: "Quantity",
        },
        Typo {
            pipeline: "retail",
            section: "ingest-types",
            edit: |d| d["stages"]["ingest"]["types"] = yaml("{Quantity: number, UnitPrce: number}"),
            key: "stages.ingest.types.UnitPrce",
            wrong: "UnitPrce",
            suggestion: "UnitPrice",
        },
        Typo {
            pipeline: "retail",
            section: "ingest-derive",
            edit: |d| {
                d["stages"]["ingest"]["derive"]["line_value"] = yaml("'Quantity * UnitPrise'")
            },
            key: "stages.ingest.derive.line_value",
            wrong: "UnitPrise",
            suggestion: "UnitPrice",
        },
        Typo {
            pipeline: "retail",
            section: "ingest-where",
            edit: |d| d["stages"]["ingest"]["where"] = yaml("'UnitPric > 0'"),
            key: "stages.ingest.where",
            wrong: "UnitPric",
            suggestion: "UnitPrice",
        },
        Typo {
            pipeline: "retail",
            section: "ingest-role",
            edit: |d| d["stages"]["ingest"]["columns"]["category"] = yaml("Contry"),
            key: "stages.ingest.columns.category",
            wrong: "Contry",
            suggestion: "Country",
        },
    ];
    for typo in &typos {
        assert_stops_before_any_artifact(typo);
    }
}

#[test]
fn parameter_ranges_are_config_errors_found_upfront() {
    type Case = (
        &'static str,
        &'static str,
        fn(&mut yaml_serde::Value),
        &'static str,
    );
    let cases: [Case; 8] = [
        (
            "wholesale",
            "tol",
            |d| d["stages"]["select_k"]["tol"] = yaml("-1"),
            "stages.select_k.tol",
        ),
        (
            "wholesale",
            "shortlist",
            |d| d["stages"]["select_k"]["shortlist"] = yaml("0"),
            "stages.select_k.shortlist",
        ),
        (
            "wholesale",
            "n-init",
            |d| d["stages"]["fit"]["n_init"] = yaml("-3"),
            "stages.fit.n_init",
        ),
        (
            "wholesale",
            "k-range",
            |d| d["stages"]["select_k"]["k"] = yaml("[6, 3]"),
            "stages.select_k.k",
        ),
        (
            "wholesale",
            "winsorize",
            |d| d["stages"]["preprocess"]["winsorize"] = yaml("[0.99, 0.01]"),
            "stages.preprocess.winsorize",
        ),
        (
            "walsoft",
            "quantile",
            |d| {
                d["stages"]["features"]["blocks"]["duration"]["p90_dur_sec"] =
                    yaml("{quantile: 1.5}")
            },
            "stages.features.blocks.duration.p90_dur_sec",
        ),
        (
            "leads",
            "deal-size",
            |d| d["stages"]["fit"]["impact"]["baseline_deal_size"] = yaml("-1"),
            "stages.fit.impact.baseline_deal_size",
        ),
        (
            "walsoft",
            "subset-fraction",
            |d| d["stages"]["robustness"]["bootstrap"]["subset_fraction"] = yaml("1.5"),
            "stages.robustness.bootstrap.subset_fraction",
        ),
    ];
    for (pipeline, name, edit, key) in cases {
        let scratch = Scratch::new(&format!("check-range-{name}"));
        let pipeline = isolated_pipeline(pipeline, scratch.path(), edit);
        let out = segflow(&["run", pipeline.to_str().unwrap()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(78), "{name}: {err}");
        assert!(err.contains(key), "{name}: `{key}` not in: {err}");
        assert!(
            !scratch.path().join("run").exists(),
            "{name}: run dir exists"
        );
    }
}

#[test]
fn a_category_column_is_checked_once_features_has_found_the_categories() {
    let scratch = Scratch::new("check-category-share");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| {
        d["stages"]["fit"]["cards"]["means"][0] = yaml("share_cat_Nonexistent")
    });
    // The categories are in the data: upfront, the name is only known to be a category share.
    let check = segflow(&["check", pipeline.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let out = segflow(&["run", pipeline.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("stages.fit.cards.means[0]") && err.contains("`share_cat_Nonexistent`"),
        "{err}"
    );
    let left = files_under(&scratch.path().join("run"));
    assert!(
        left.iter().any(|f| f == "features/features.parquet"),
        "{left:?}"
    );
    assert!(
        !left
            .iter()
            .any(|f| f.starts_with("preprocess") || f.starts_with("fit")),
        "a stage after features wrote: {left:?}"
    );
}

#[test]
fn a_value_aggregation_without_a_mapped_value_is_found_upfront() {
    let scratch = Scratch::new("check-no-value");
    let pipeline = isolated_pipeline("walsoft", scratch.path(), |d| {
        let ingest = d["stages"]["ingest"].as_mapping_mut().unwrap();
        ingest.remove("value_min");
        ingest["columns"].as_mapping_mut().unwrap().remove("value");
    });
    let out = segflow(&["check", pipeline.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("stages.features.blocks.duration.total_dur_sec")
            && err.contains("`value` column, which ingest did not map"),
        "{err}"
    );
}

#[test]
fn a_misspelled_model_block_names_the_nearest_block() {
    let scratch = Scratch::new("check-model-block");
    let pipeline = isolated_pipeline("wholesale", scratch.path(), |d| {
        d["stages"]["features"]["model_blocks"][1] = yaml("grocery_shelves")
    });
    let out = segflow(&["check", pipeline.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(
        err.contains("stages.features.model_blocks[1]")
            && err.contains("did you mean `grocery_shelf`"),
        "{err}"
    );
}
