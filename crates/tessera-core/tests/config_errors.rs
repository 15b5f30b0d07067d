//! Config mistakes are reported as `file:line:col: message`, with a suggestion for misspelt names.
//! Expected positions are those of the offending key or value in each fixture text.

use tessera_core::Config;
use tessera_core::config::{Bound, ColumnRef, ConflictPolicy, Format};
use tessera_core::schema::SourceKind;

fn err(text: &str) -> String {
    Config::from_toml(text, "shop/tessera.toml".as_ref())
        .unwrap_err()
        .to_string()
}

const OK: &str = r#"[project]
as_of = 2025-01-01
time_zone = "Europe/Berlin"

[sources.customers]
path = "customers.csv"
columns = { customer_id = "CustomerID" }
attributes.age = { column = "Age", type = "int", min = 0, max = 120 }

[sources.orders]
path = "orders/*.parquet"
on_conflict = "last"
columns = { order_id = "id", customer_id = 2, ordered_at = { column = "at", format = "%d.%m.%Y %H:%M" }, amount = { column = "total", min = "-500.00" } }
"#;

#[test]
fn a_valid_config_resolves() {
    let c = Config::from_toml(OK, "shop/tessera.toml".as_ref()).unwrap();
    assert_eq!(c.base_dir, std::path::Path::new("shop"));
    assert_eq!(c.as_of, Some(20_089)); // 2025-01-01 is day 20089 since 1970-01-01.
    let orders = c.source(SourceKind::Orders).unwrap();
    assert_eq!(orders.format, Format::Parquet);
    assert_eq!(orders.on_conflict, ConflictPolicy::Last);
    assert_eq!(
        orders.field("customer_id").unwrap().column,
        ColumnRef::Index(1)
    );
    assert_eq!(
        orders.field("amount").unwrap().min,
        Some(Bound::Int(-50_000))
    );
    assert_eq!(
        orders.field("ordered_at").unwrap().format.as_deref(),
        Some("%d.%m.%Y %H:%M")
    );
    // Optional canonical fields not in the config are looked up by their own name, if present.
    let category = orders.field("category").unwrap();
    assert!(category.implicit && !category.required);
    let age = c
        .source(SourceKind::Customers)
        .unwrap()
        .field("age")
        .unwrap();
    assert_eq!(
        (age.min, age.max),
        (Some(Bound::Int(0)), Some(Bound::Int(120)))
    );
}

#[test]
fn unknown_keys_name_their_line_and_suggest() {
    assert_eq!(
        err("[sources.customers]\npath = \"c.csv\"\nformatt = \"csv\"\n"),
        "shop/tessera.toml:3:1: unknown field `formatt`, expected one of `path`, `format`, `csv`, `columns`, `attributes`, `date_format`, `timestamp_format`, `time_zone`, `decimal_separator`, `thousands_separator`, `on_conflict`, `unknown_customers`; did you mean `format`?"
    );
    assert_eq!(
        err("[sources.customers]\npath = \"c.csv\"\ncolumns = { custmer_id = \"id\" }\n"),
        "shop/tessera.toml:3:13: unknown field `custmer_id` in [sources.customers.columns]; did you mean `customer_id`?; extra columns go under [sources.customers.attributes]"
    );
    assert_eq!(
        err("[sources.customer]\npath = \"c.csv\"\n"),
        "shop/tessera.toml:1:10: unknown field `customer`, expected one of `customers`, `orders`, `events`, `feedback`; did you mean `customers`?"
    );
    let e = err(
        "[sources.customers]\npath = \"c.csv\"\nattributes.age = { colum = \"Age\", type = \"int\" }\n",
    );
    assert!(
        e.starts_with("shop/tessera.toml:3:20: unknown field `colum`"),
        "{e}"
    );
    assert!(e.ends_with("did you mean `column`?"), "{e}");
}

#[test]
fn wrong_types_and_values_name_their_line() {
    assert_eq!(
        err("[project]\nmoney_decimals = \"two\"\n[sources.customers]\npath = \"c.csv\"\n"),
        "shop/tessera.toml:2:18: invalid type: string \"two\", expected i64"
    );
    assert_eq!(
        err("[project]\ntime_zone = \"Europe/Berln\"\n[sources.customers]\npath = \"c.csv\"\n"),
        "shop/tessera.toml:2:13: unknown time zone `Europe/Berln`; did you mean `Europe/Berlin`?"
    );
    assert_eq!(
        err("[sources.customers]\npath = \"c.csv\"\nformat = \"parqet\"\n"),
        "shop/tessera.toml:3:10: unknown variant `parqet`, expected one of `csv`, `parquet`, `ndjson`; did you mean `parquet`?"
    );
    assert_eq!(
        err("[sources.customers]\npath = \"c.csv\"\nattributes.age = { type = \"integer\" }\n"),
        "shop/tessera.toml:3:27: unknown type `integer`; did you mean `int`?"
    );
    assert_eq!(
        err(
            "[sources.customers]\npath = \"c.csv\"\nattributes.age = { type = \"int\", min = \"young\" }\n"
        ),
        "shop/tessera.toml:3:40: `min` of `age`: `young` is not an integer"
    );
    assert_eq!(
        err("[sources.customers]\npath = \"c.dat\"\n"),
        "shop/tessera.toml:2:8: cannot tell the format of `c.dat` from its extension; set format = \"csv\", \"parquet\" or \"ndjson\""
    );
    assert_eq!(
        err("[sources.customers]\npath = \"c.csv\"\ncolumns = { customer_id = 0 }\n"),
        "shop/tessera.toml:3:27: column numbers start at 1, got 0 for `customer_id`"
    );
    assert_eq!(
        err("[sources.customers]\npath = \"c.csv\"\ndate_format = \"%Q\"\n"),
        "shop/tessera.toml:3:15: `%Q` is not a valid strftime format"
    );
}

#[test]
fn structure_errors() {
    assert_eq!(
        err("[project]\nname = \"x\"\n"),
        "shop/tessera.toml:1:1: no [sources] table: at least [sources.customers] is required"
    );
    assert_eq!(
        err("[sources.orders]\npath = \"o.csv\"\n"),
        "shop/tessera.toml:1:2: [sources.customers] is required"
    );
    assert_eq!(
        err("[sources.customers]\npath = \"c.csv\"\nx = 1 2\n")
            .split(':')
            .take(3)
            .collect::<Vec<_>>(),
        ["shop/tessera.toml", "3", "5"]
    );
}

#[test]
fn the_documented_example_is_valid() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md"))
        .unwrap();
    let start = doc.find("```toml\n").unwrap() + 8;
    let example = &doc[start..start + doc[start..].find("```").unwrap()];
    let c = Config::from_toml(example, "tessera.toml".as_ref()).unwrap();
    assert_eq!(c.sources.len(), 4);
    let customers = c.source(SourceKind::Customers).unwrap();
    assert_eq!(customers.fields.len(), 2 + 7);
    // Attributes keep the order the file gives them.
    let names: Vec<&str> = customers.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "signed_up_at",
            "age",
            "gender",
            "email_opt_in",
            "credit_limit",
            "birthday",
            "last_login",
            "interests"
        ]
    );
    // A list attribute with its separator and allowed items.
    let interests = customers.field("interests").unwrap();
    assert_eq!(interests.ty, tessera_core::FieldType::List);
    assert_eq!(interests.separator.as_deref(), Some(";"));
    assert_eq!(interests.values.as_ref().unwrap().len(), 3);
}

#[test]
fn features_and_rfm_sections() {
    let base = "[sources.customers]\npath = \"c.csv\"\n";
    let c = Config::from_toml(&format!("{base}[features]\nwindows = [90, 7, 90]\ntime_unit = \"days\"\n[rfm]\nbins = 4\n[[rfm.segments]]\nname = \"Best\"\nr = [4, 4]\nf = [3, 4]\nm = [1, 4]\n"), "t.toml".as_ref()).unwrap();
    assert_eq!(c.features.windows, [7, 90]);
    assert_eq!(
        c.features.time_unit,
        tessera_core::config::TimeUnitName::Days
    );
    assert_eq!(c.rfm.bins, 4);
    assert_eq!(c.rfm.segments.as_ref().unwrap()[0].f, Some([3, 4]));
    let d = Config::from_toml(base, "t.toml".as_ref()).unwrap();
    assert_eq!(
        (d.features.windows.as_slice(), d.rfm.bins),
        (&[30, 90, 365][..], 5)
    );

    assert_eq!(
        err(&format!("{base}[features]\nwindows = [0]\n")),
        "shop/tessera.toml:4:11: features.windows must list window lengths in days, each 1..=36500"
    );
    assert_eq!(
        err(&format!("{base}[rfm]\nbins = 12\n")),
        "shop/tessera.toml:4:8: rfm.bins must be between 2 and 10, got 12"
    );
    assert_eq!(
        err(&format!(
            "{base}[rfm]\nbins = 4\n[[rfm.segments]]\nname = \"Top\"\nr = [4, 5]\nf = [1, 4]\nm = [1, 4]\n"
        )),
        "shop/tessera.toml:5:1: rfm segment `Top`: r = [4, 5] is not a range within 1..=4 for 4 bins"
    );
    // Ranges are optional; `fm` bounds the average of F and M, within the bins like the others.
    let c = Config::from_toml(
        &format!("{base}[rfm]\nbins = 4\n[[rfm.segments]]\nname = \"Slipping\"\nr = [1, 2]\nfm = [3, 4]\n[[rfm.segments]]\nname = \"Others\"\n"),
        "t.toml".as_ref(),
    )
    .unwrap();
    let rules = c.rfm.segments.unwrap();
    assert_eq!(
        (rules[0].r, rules[0].f, rules[0].m, rules[0].fm),
        (Some([1, 2]), None, None, Some([3, 4]))
    );
    assert_eq!(
        (
            rules[1].name.as_str(),
            rules[1].r,
            rules[1].fm,
            rules[1].at.as_str()
        ),
        ("Others", None, None, "t.toml:9:1")
    );
    assert_eq!(
        err(&format!(
            "{base}[rfm]\nbins = 4\n[[rfm.segments]]\nname = \"Top\"\nfm = [2, 5]\n"
        )),
        "shop/tessera.toml:5:1: rfm segment `Top`: fm = [2, 5] is not a range within 1..=4 for 4 bins"
    );
    assert_eq!(
        err(&format!("{base}[rfm]\n[[rfm.segments]]\nname = \" \"\n")),
        "shop/tessera.toml:4:1: rfm segment rule 1 has an empty name"
    );
    // A range is exactly two whole scores.
    assert_eq!(
        err(&format!(
            "{base}[rfm]\n[[rfm.segments]]\nname = \"Top\"\nr = [1, 2, 99]\n"
        )),
        "shop/tessera.toml:6:5: invalid length 3, expected [lowest, highest], two whole scores"
    );
    assert_eq!(
        err(&format!(
            "{base}[rfm]\n[[rfm.segments]]\nname = \"Top\"\nfm = [1.5, 2.5]\n"
        )),
        "shop/tessera.toml:6:7: invalid type: floating point `1.5`, expected a whole score (1 to the number of bins)"
    );
    assert_eq!(
        err(&format!(
            "{base}[rfm]\n[[rfm.segments]]\nname = \"no purchase\"\n"
        )),
        "shop/tessera.toml:4:1: rfm segment rule 1: `No Purchase` is the segment of customers without purchases; choose another name"
    );
    assert_eq!(
        err(&format!("{base}[features]\nevents = [\"page_view\"]\n")),
        "shop/tessera.toml:4:10: features.events names events to count, but the config has no [sources.events]"
    );
    assert_eq!(
        err(&format!("{base}[features]\ntime_unit = \"week\"\n")),
        "shop/tessera.toml:4:13: unknown variant `week`, expected one of `days`, `weeks`, `months`, `years`; did you mean `weeks`?"
    );
}

#[test]
fn custom_features_and_event_names() {
    use tessera_core::config::CustomOver;
    let base = "[sources.customers]\npath = \"c.csv\"\n";
    let text = format!(
        "{base}[features]\nevents = [\"page_view\", \"checkout\"]\n[features.custom]\nshoes = \"sum(amount) filter (where category = 'shoes')\"\nviews = {{ over = \"events\", sql = \"count(*)\", description = \"all events\" }}\n[sources.events]\npath = \"e.csv\"\n"
    );
    let c = Config::from_toml(&text, "t.toml".as_ref()).unwrap();
    assert_eq!(
        c.features.events.as_deref(),
        Some(&["page_view".to_string(), "checkout".to_string()][..])
    );
    let custom = &c.features.custom;
    assert_eq!(custom.len(), 2);
    assert_eq!(
        (custom[0].name.as_str(), custom[0].over),
        ("shoes", CustomOver::Orders)
    );
    // The position of the SQL text: line 6, after `shoes = `.
    assert_eq!(custom[0].at, "t.toml:6:9");
    assert_eq!(
        (custom[1].over, custom[1].description.as_deref()),
        (CustomOver::Events, Some("all events"))
    );

    let bad = |tail: &str| err(&format!("{base}{tail}"));
    assert_eq!(
        bad("[features.custom]\nBig = \"count(*)\"\n"),
        "shop/tessera.toml:4:1: features.custom: `Big` is not a valid feature name (lower-case letters, digits and `_`, starting with a letter)"
    );
    assert_eq!(
        bad("[features.custom]\nx = \"  \"\n"),
        "shop/tessera.toml:4:5: features.custom.x: the SQL expression is empty"
    );
    assert!(
        bad("[features.custom]\nx = { over = \"feedback\", sql = \"count(*)\" }\n")
            .contains("unknown variant `feedback`"),
    );
    assert_eq!(
        bad("[features]\nevents = [\"a\", \" \"]\n"),
        "shop/tessera.toml:4:10: features.events lists an empty name; events without a name are rejected as they are read"
    );
    assert_eq!(
        bad("[features]\nevents = [\"a\", \"a\"]\n"),
        "shop/tessera.toml:4:10: features.events lists `a` twice"
    );
}

#[test]
fn attributes_and_custom_features_cannot_take_the_feature_tables_names() {
    let with = |attribute: &str, tail: &str| {
        err(&format!(
            "[sources.customers]\npath = \"c.csv\"\nattributes.{attribute} = {{ type = \"int\" }}\n{tail}"
        ))
    };
    assert_eq!(
        with("recency_days", ""),
        "shop/tessera.toml:3:12: attribute `recency_days` is already a column of the feature table (`recency_days`); segment rules could not tell them apart"
    );
    assert_eq!(
        with("t", ""),
        "shop/tessera.toml:3:12: attribute `t` is already a column of the feature table (`T`); segment rules could not tell them apart"
    );
    assert_eq!(
        with("spend_7d", "[features]\nwindows = [7]\n"),
        "shop/tessera.toml:3:12: attribute `spend_7d` is already a column of the feature table (`spend_7d`); segment rules could not tell them apart"
    );
    assert!(
        with("category_share_x", "")
            .contains("is a name the feature table gives its category columns")
    );
    assert_eq!(
        with("vip", "[features.custom]\nvip = \"count(*)\"\n"),
        "shop/tessera.toml:3:12: attribute `vip` is the name of a custom feature (`vip`); segment rules could not tell them apart"
    );
    // Attributes are told apart from the fields beside them in any case.
    assert_eq!(
        with("Signed_Up_At", ""),
        "shop/tessera.toml:3:12: attribute `Signed_Up_At` has the name of a canonical field of customers (`signed_up_at`)"
    );
    assert_eq!(
        err(
            "[sources.customers]\npath = \"c.csv\"\nattributes.age = { type = \"int\" }\nattributes.Age = { type = \"int\" }\n"
        ),
        "shop/tessera.toml:4:12: attribute `Age` differs from the attribute `age` only in case"
    );
    // Columns Tessera adds to orders and events are no attribute's.
    let order_attribute = |source: &str, attribute: &str| {
        err(&format!(
            "[sources.customers]\npath = \"c.csv\"\n[sources.{source}]\npath = \"o.csv\"\nattributes.{attribute} = {{ type = \"int\" }}\n"
        ))
    };
    assert_eq!(
        order_attribute("orders", "is_refund"),
        "shop/tessera.toml:5:12: attribute `is_refund` has the name of a column Tessera adds to orders (`is_refund`); choose another name"
    );
    assert_eq!(
        order_attribute("orders", "Day"),
        "shop/tessera.toml:5:12: attribute `Day` has the name of a column Tessera adds to orders (`day`); choose another name"
    );
    assert_eq!(
        order_attribute("events", "age_days"),
        "shop/tessera.toml:5:12: attribute `age_days` has the name of a column Tessera adds to events (`age_days`); choose another name"
    );
    // With the default windows, `spend_7d` is free.
    assert!(
        Config::from_toml(
            "[sources.customers]\npath = \"c.csv\"\nattributes.spend_7d = { type = \"int\" }\n",
            "t.toml".as_ref()
        )
        .is_ok()
    );
}

#[test]
fn clustering_resolves_with_defaults_and_per_feature_steps() {
    let text = format!(
        "{OK}\n[clustering]\nfeatures = [\"recency_days\", \"frequency\", \"monetary_total\"]\n\
         transform = [\"log1p\", \"standardize\"]\n\
         transforms.recency_days = [\"winsorize(0.05, 0.95)\", \"robust\"]\nk = 4\nseed = 7\n"
    );
    let c = Config::from_toml(&text, "shop/tessera.toml".as_ref()).unwrap();
    let k = c.clustering.unwrap();
    use tessera_core::config::{ClusterMethod, MissingPolicy, TransformStep as T};
    assert_eq!(k.k, Some(4));
    assert_eq!((k.seed, k.n_init, k.k_range), (7, 3, [2, 8]));
    assert_eq!(k.method, ClusterMethod::Kmeans);
    assert_eq!(k.missing, MissingPolicy::Skip);
    assert_eq!(k.steps("frequency"), [T::Log1p, T::Standardize]);
    assert_eq!(
        k.steps("recency_days"),
        [T::Winsorize { lo: 0.05, hi: 0.95 }, T::Robust]
    );
    assert_eq!(k.at, "shop/tessera.toml:15:1");
    assert_eq!(
        T::parse_list("winsorize(0.01,0.99),log1p"),
        Ok(vec![T::Winsorize { lo: 0.01, hi: 0.99 }, T::Log1p])
    );
    assert_eq!(T::parse_list("none"), Ok(vec![]));
}

#[test]
fn clustering_mistakes_name_their_key() {
    let with = |body: &str| err(&format!("{OK}\n[clustering]\n{body}\n"));
    assert_eq!(
        with("features = [\"frequency\"]\ntransform = [\"log\"]"),
        "shop/tessera.toml:17:14: unknown transform `log`, expected one of log1p, standardize, robust, winsorize; did you mean `log1p`?"
    );
    assert_eq!(
        with("features = [\"frequency\"]\ntransforms.recency = [\"log1p\"]"),
        "shop/tessera.toml:17:12: clustering.transforms.recency: not one of clustering.features"
    );
    assert_eq!(
        with("features = [\"frequency\"]\nk = \"many\""),
        "shop/tessera.toml:17:5: clustering.k must be \"auto\" or a number of clusters 1..=1000"
    );
    assert_eq!(
        with("features = [\"frequency\"]\nk_range = [5, 3]"),
        "shop/tessera.toml:17:11: clustering.k_range must be [LO, HI] with 2 <= LO <= HI <= 100"
    );
    assert_eq!(
        with("features = [\"frequency\"]\nmethod = \"kmedoids\""),
        "shop/tessera.toml:17:10: clustering.method: unknown method `kmedoids`, expected one of kmeans, minibatch_kmeans, kprototypes"
    );
    assert_eq!(
        with("features = [\"frequency\"]\ncategorical = [\"frequency\"]"),
        "shop/tessera.toml:17:16: clustering: `frequency` is both a numeric feature and a categorical one"
    );
    assert_eq!(
        with("features = [\"frequency\", \"frequency\"]"),
        "shop/tessera.toml:16:26: clustering.features lists `frequency` twice"
    );
    assert_eq!(
        with("features = [\"frequency\"]\ntransform = [\"winsorize(0.9, 0.1)\"]"),
        "shop/tessera.toml:17:14: `winsorize(0.9, 0.1)`: expected quantiles 0 <= LO < HI <= 1"
    );
}

#[test]
fn store_defaults_beside_the_config_and_checks_its_keys() {
    let c = Config::from_toml(OK, "shop/tessera.toml".as_ref()).unwrap();
    assert_eq!(c.store.path, std::path::Path::new("shop/.tessera"));
    assert_eq!((c.store.keep, c.store.enabled), (50, true));
    let c = Config::from_toml(
        &format!("{OK}\n[store]\npath = \"history\"\nkeep = 3\nenabled = false\n"),
        "shop/tessera.toml".as_ref(),
    )
    .unwrap();
    assert_eq!(c.store.path, std::path::Path::new("shop/history"));
    assert_eq!((c.store.keep, c.store.enabled), (3, false));
    // OK has 13 lines; after a blank line [store] is line 15 and its first key line 16.
    assert_eq!(
        err(&format!("{OK}\n[store]\nkeep = 0\n")),
        "shop/tessera.toml:16:8: store.keep must be 1..=100000 (the number of runs kept; set enabled = false to record none)"
    );
    assert_eq!(
        err(&format!("{OK}\n[store]\npath = \" \"\n")),
        "shop/tessera.toml:16:8: store.path must not be empty"
    );
    assert!(
        err(&format!("{OK}\n[store]\nkeeps = 3\n"))
            .starts_with("shop/tessera.toml:16:1: unknown field `keeps`")
    );
}
