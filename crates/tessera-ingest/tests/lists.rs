//! `list` attributes: read from CSV text split at the separator, NDJSON arrays and Parquet lists
//! into an Arrow `List<Utf8>` column, items trimmed and empty ones left out, each item checked
//! against `values`, bad values rejected as `bad_list`, and the items part of a row's content for
//! telling exact copies from conflicting rows. Expected lists are read off the fixture rows.

mod common;
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use parquet::arrow::ArrowWriter;
use std::sync::Arc;
use tessera_core::SourceKind;

/// The list column of a clean table, a row per customer: `None` for null.
fn lists(p: &Project, source: &str, column: &str) -> Vec<Option<Vec<String>>> {
    p.clean(source)
        .iter()
        .flat_map(|b| {
            let col = b.column_by_name(column).unwrap();
            assert_eq!(
                col.data_type(),
                &DataType::List(Arc::new(Field::new("item", DataType::Utf8, false)))
            );
            let l = col.as_list::<i32>().clone();
            (0..l.len())
                .map(|i| {
                    l.is_valid(i).then(|| {
                        l.value(i)
                            .as_string::<i32>()
                            .iter()
                            .map(|s| s.unwrap().to_string())
                            .collect()
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn some(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

const LIST_TOML: &str = r#"
[sources.customers]
path = "customers.csv"
columns = { customer_id = "id" }
attributes.interests = { column = "interests", type = "list", values = ["golf", "travel", "wine"] }
attributes.devices = { column = "devices", type = "list", separator = "|" }
"#;

#[test]
fn csv_text_is_split_trimmed_and_checked_item_by_item() {
    let csv = "id,interests,devices\n\
C1,golf;travel,phone|tablet\n\
C2, wine ;; golf;,\n\
C3,,phone\n\
C4,golf;chess,phone\n\
C5,travel,phone;tablet\n";
    let p = Project::new(&[("customers.csv", csv.as_bytes())]);
    let outcome = p.run(LIST_TOML).unwrap();
    assert_reconciles(&p, &outcome);
    // C4's `chess` is not among the values: the row is rejected, naming the item.
    assert_eq!(
        p.strings("customers", "customer_id"),
        ["C1", "C2", "C3", "C5"].map(|s| Some(s.to_string()))
    );
    assert_eq!(
        lists(&p, "customers", "interests"),
        [
            some(&["golf", "travel"]),
            some(&["wine", "golf"]),
            None,
            some(&["travel"])
        ]
    );
    // `;` does not split a field whose separator is `|`.
    assert_eq!(
        lists(&p, "customers", "devices"),
        [
            some(&["phone", "tablet"]),
            None,
            some(&["phone"]),
            some(&["phone;tablet"])
        ]
    );
    let rejects = p.rejects();
    assert_eq!(rejects.len(), 1);
    let r = &rejects[0];
    assert_eq!(
        (r.line, r.reason.as_str(), r.column.as_str()),
        (5, "not_in_domain", "interests")
    );
    assert!(r.message.contains("`chess`"), "{}", r.message);
}

#[test]
fn ndjson_arrays_and_strings_become_lists_and_other_values_are_bad_lists() {
    let ndjson = r#"{"id":"C1","interests":["golf"," travel",null,""]}
{"id":"C2","interests":"wine;golf"}
{"id":"C3","interests":[]}
{"id":"C4","interests":[1,true]}
{"id":"C5","interests":{"a":1}}
{"id":"C6","interests":[["golf"]]}
{"id":"C7","interests":12}
{"id":"C8"}
"#;
    let toml = r#"
[sources.customers]
path = "customers.ndjson"
columns = { customer_id = "id" }
attributes.interests = { column = "interests", type = "list" }
"#;
    let p = Project::new(&[("customers.ndjson", ndjson.as_bytes())]);
    let outcome = p.run(toml).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(
        lists(&p, "customers", "interests"),
        [
            some(&["golf", "travel"]),
            some(&["wine", "golf"]),
            some(&[]),
            some(&["1", "true"]),
            None
        ]
    );
    let mut bad: Vec<(u64, String)> = p
        .rejects()
        .into_iter()
        .map(|r| (r.line, r.reason))
        .collect();
    bad.sort();
    assert_eq!(bad, [5, 6, 7].map(|l| (l, "bad_list".to_string())).to_vec());
}

#[test]
fn parquet_lists_are_read_as_lists() {
    let mut b = ListBuilder::new(StringBuilder::new());
    b.values().append_value("golf");
    b.values().append_null();
    b.values().append_value(" wine ");
    b.append(true);
    b.append(false);
    b.append(true);
    let interests = b.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("interests", interests.data_type().clone(), true),
        Field::new("tags", DataType::Utf8, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["C1", "C2", "C3"])),
        Arc::new(interests),
        Arc::new(StringArray::from(vec![Some("a;b"), None, Some("c")])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let toml = r#"
[sources.customers]
path = "customers.parquet"
columns = { customer_id = "id" }
attributes.interests = { column = "interests", type = "list" }
attributes.tags = { column = "tags", type = "list" }
"#;
    let p = Project::new(&[("customers.parquet", &buf)]);
    let outcome = p.run(toml).unwrap();
    assert_reconciles(&p, &outcome);
    assert_eq!(
        lists(&p, "customers", "interests"),
        [some(&["golf", "wine"]), None, some(&[])]
    );
    // A Parquet string column is text, split like a CSV cell.
    assert_eq!(
        lists(&p, "customers", "tags"),
        [some(&["a", "b"]), None, some(&["c"])]
    );
}

#[test]
fn a_row_differing_only_in_its_list_conflicts_and_an_exact_copy_is_a_duplicate() {
    let csv = "id,interests,devices\n\
C1,golf;travel,phone\n\
C1, golf ; travel ,phone\n\
C2,golf;travel,phone\n\
C2,travel;golf,phone\n";
    let p = Project::new(&[("customers.csv", csv.as_bytes())]);
    let outcome = p.run(LIST_TOML).unwrap();
    assert_reconciles(&p, &outcome);
    let c = &outcome.sources[&SourceKind::Customers];
    // C1's second row is the same list once trimmed; C2's has its items in another order.
    assert_eq!((c.accepted, c.duplicates, c.rejected), (1, 1, 2));
    let reasons: Vec<String> = p.rejects().into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons, ["conflicting_duplicate", "conflicting_duplicate"]);
}

#[test]
fn separators_apply_to_lists_only() {
    let p = Project::new(&[("customers.csv", b"id\n")]);
    let file = p.path().join("tessera.toml");
    for (attribute, message) in [
        (
            r#"city = { column = "city", type = "string", separator = "|" }"#,
            "`separator` splits the text of a list field",
        ),
        (
            r#"tags = { column = "tags", type = "list", separator = " " }"#,
            "empty or blank",
        ),
    ] {
        let toml = format!(
            "\n[sources.customers]\npath = \"customers.csv\"\ncolumns = {{ customer_id = \"id\" }}\nattributes.{attribute}\n"
        );
        let e = tessera_core::Config::from_toml(&toml, &file)
            .unwrap_err()
            .to_string();
        assert!(e.contains("tessera.toml:5:") && e.contains(message), "{e}");
    }
}
