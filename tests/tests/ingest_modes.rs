//! Ingest options beyond the default pipeline: one timestamp column with several formats,
//! kept columns, a key file for keyed ids; and table mode with blanks, declared types and an
//! id column.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use segflow_core::artifact::read_parquet;
use segflow_tests::*;

#[test]
fn events_from_one_timestamp_column_with_kept_columns_and_a_key_file() {
    let scratch = Scratch::new("ingest-timestamp");
    let csv = scratch.path().join("orders.csv");
    std::fs::write(
        &csv,
        "customer,ordered_at,amount,channel,email\n\
         C1,2024-03-01 10:00:00,12.5,web,a@x.org\n\
         C2,2024-03-01T11:30:00,7,shop,b@x.org\n\
         C1,2024-03-02 09:15:00.250,3.25,web,a@x.org\n\
         C3,03/02/2024 09:15,4,web,c@x.org\n",
    )
    .unwrap();
    let key = scratch.path().join("id.key");
    std::fs::write(&key, "s3cret\n").unwrap();
    let params = scratch.path().join("ingest.yaml");
    std::fs::write(
        &params,
        format!(
            "mode: events\ncolumns: {{contact: customer, timestamp: ordered_at, value: amount}}\n\
             formats: {{timestamp: ['%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S%.f']}}\n\
             keep: [channel]\nmax_reject_fraction: 0.3\n\
             privacy: {{id: {{method: hmac_sha256, key_file: {}, hex_chars: 16}}, drop: [email]}}\n",
            key.display()
        ),
    )
    .unwrap();
    let out = scratch.path().join("out");
    let o = run_stage(
        "ingest",
        csv.to_str().unwrap(),
        &out,
        params.to_str().unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let events = render_full(&out.join("events.parquet"));
    let rows: Vec<&str> = events
        .lines()
        .skip_while(|l| !l.starts_with("contact_id |"))
        .collect();
    assert_eq!(rows[0], "contact_id | ts | value | channel | source_line");
    assert_eq!(rows.len(), 4, "{events}");
    assert!(
        rows[1].ends_with("| 2024-03-01 10:00:00 | 12.5 | web | 2"),
        "{events}"
    );
    assert!(
        rows[2].ends_with("| 2024-03-01 11:30:00 | 7 | shop | 3"),
        "{events}"
    );
    assert!(
        rows[3].ends_with("| 2024-03-02 09:15:00.250 | 3.25 | web | 4"),
        "{events}"
    );
    let c1 = rows[1].split(" | ").next().unwrap();
    assert_eq!(c1.len(), 16);
    assert_eq!(
        rows[3].split(" | ").next().unwrap(),
        c1,
        "same customer, same keyed id"
    );
    assert!(!events.contains("a@x.org") && !events.contains("C1"));
    let rejects = render_full(&out.join("rejects.parquet"));
    assert!(
        rejects.contains("5 | ordered_at | cannot parse as timestamp"),
        "{rejects}"
    );
}

#[test]
fn epoch_seconds_are_read_with_percent_s() {
    let scratch = Scratch::new("ingest-epoch");
    let (o, out) = ingest_text(
        scratch.path(),
        "calls.csv",
        "contact,ts,dur\n111,1641052981,10\n111,1641139381,20\n222,1641052981.5,5\n",
        "mode: events\ncolumns: {contact: contact, timestamp: ts, value: dur}\n\
         formats: {timestamp: ['%s', '%s%.f']}\n",
        "out",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let events = render_full(&out.join("events.parquet"));
    // `date -u -d @1641052981` prints Sat Jan  1 16:03:01 UTC 2022.
    for ts in [
        "| 2022-01-01 16:03:01 |",
        "| 2022-01-02 16:03:01 |",
        "| 2022-01-01 16:03:01.500 |",
    ] {
        assert!(events.contains(ts), "{ts} not in {events}");
    }
}

#[test]
fn table_mode_blanks_are_nulls_declared_types_reject_and_ids_are_hashed() {
    let scratch = Scratch::new("ingest-table");
    let (o, out) = ingest_text(
        scratch.path(),
        "leads.csv",
        "lead,score,size,region,name\r\n\
         L-1,0.5,10,north,Ann\r\n\
         L-2,,20,,Bob\r\n\
         L-3,0.9,many,south,Cy\r\n\
         L-4,0.1,40,east,Di",
        "mode: table\ntable: {id: lead, types: {size: int64}}\nprivacy: {drop: [name]}\nmax_reject_fraction: 0.25\n",
        "out",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = read_parquet(&out.join("table.parquet")).unwrap();
    let names: Vec<String> = column_names(&table);
    assert_eq!(names, ["row_id", "score", "size", "region"]);
    assert_eq!(table.batch.num_rows(), 3);
    let ids = table
        .batch
        .column_by_name("row_id")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(ids.value(0), &segflow_core::hash::sha256_hex(b"L-1")[..12]);
    let score = table
        .batch
        .column_by_name("score")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(score.null_count(), 1, "a blank is a null");
    let region = table.batch.column_by_name("region").unwrap();
    assert_eq!(region.null_count(), 1);
    let rejects = render_full(&out.join("rejects.parquet"));
    assert!(
        rejects.contains("4 | size | not a valid int64 | many"),
        "{rejects}"
    );
    let audit = render_full(&out.join("audit_columns.parquet"));
    assert!(
        audit.contains("lead | id (hashed into row_id) | string | inferred | 4 | 1"),
        "{audit}"
    );
    assert!(
        audit.contains("size | kept | int64 | declared | 4 | 1"),
        "{audit}"
    );
    assert!(
        audit.contains("score | kept | float64 | inferred | 3 | 0.75"),
        "{audit}"
    );
    assert!(audit.contains("name | dropped (PII) |"), "{audit}");
}
