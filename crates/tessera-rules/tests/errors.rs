//! Every kind of rule error, rendered as the user sees it, pinned by snapshots.

mod common;

use tessera_rules::{DefError, SegmentDef, SegmentSet};

fn error_of(rules: &[(&str, &str)]) -> String {
    let defs = rules
        .iter()
        .map(|(name, rule)| SegmentDef {
            name: name.to_string(),
            rule: rule.to_string(),
            ..Default::default()
        })
        .collect();
    let errors = SegmentSet::compile(common::catalog(chrono_tz::UTC), defs, vec![])
        .expect_err("the rule is wrong");
    let kind = match &errors[0] {
        DefError::Rule { error, .. } => error.kind.code(),
        DefError::Group { .. } => "group",
    };
    format!("[{kind}] {}", errors[0])
}

fn one(rule: &str) -> String {
    error_of(&[("s", rule)])
}

macro_rules! snap {
    ($name:ident, $rule:expr) => {
        #[test]
        fn $name() {
            insta::assert_snapshot!(one($rule));
        }
    };
}

// Syntax.
snap!(syntax_unexpected_character, "spend_90d > 5 $ 3");
snap!(syntax_missing_value, "age >=");
snap!(syntax_unclosed_paren, "(age > 3 and vip");
snap!(syntax_unbalanced_paren, "age > 3)");
snap!(syntax_unclosed_string, "country = \"DE");
snap!(syntax_bad_escape, r#"country = "D\E""#);
snap!(syntax_trailing, "age > 3 country");
snap!(syntax_keyword_as_field, "where > 3");
snap!(syntax_unknown_function, "foo(age) > 3");
snap!(syntax_list_unclosed, r#"country in ["DE", "AT""#);
snap!(syntax_sum_without_column, "sum(orders) > 3");
snap!(syntax_count_with_column, "count(orders.amount) > 3");
snap!(syntax_window_unit, "count(orders last 30 months) > 3");
snap!(syntax_matches_needs_string, "country matches 3");
snap!(syntax_is_without_null, "age is 3");

// Unknown names.
snap!(unknown_field, "spnd_90d > 5");
snap!(unknown_column, "sum(orders.amont) > 5");
snap!(
    unknown_filter_column,
    r#"count(orders where categry = "shoes") > 1"#
);
snap!(unknown_table, "sum(payments.amount) > 5");
snap!(unknown_segment, r#"in segment "vipp""#);
snap!(table_column_outside_aggregate, "orders.amount > 5");

// Types.
snap!(type_int_vs_string, r#"age > "old""#);
snap!(type_money_vs_int_field, "spend > age");
snap!(type_not_a_condition, "age and vip");
snap!(type_contains_on_int, r#"age contains "1""#);
snap!(type_sum_of_string, "sum(orders.category) > 1");
snap!(type_null_comparison, "age = null");
snap!(
    type_aggregate_in_filter,
    "count(orders where count(orders) > 1) > 1"
);
snap!(
    type_segment_in_filter,
    r#"count(orders where in segment "s") > 1"#
);
snap!(type_days_since_string, "days_since(country) > 3");
snap!(type_duration_vs_money, "spend > 3 days");

// Literals.
snap!(literal_bad_date, "joined > 2024-02-30");
snap!(literal_bad_regex, r#"country matches "(unclosed""#);
snap!(literal_int_overflow, "age > 99999999999999999999");
snap!(
    literal_window_reversed,
    "count(orders between 2024-03-01 and 2024-02-01) > 1"
);

// Limits.
#[test]
fn limit_depth() {
    let rule = format!("{}vip{}", "(".repeat(65), ")".repeat(65));
    insta::assert_snapshot!(one(&rule));
}

#[test]
fn limit_nodes() {
    let rule = vec!["vip"; 6_000].join(" or ");
    assert!(rule.len() < 64 * 1024);
    let err = one(&rule);
    assert!(err.starts_with("[limit]"), "{err}");
    assert!(err.contains("more than 10000 nodes"), "{err}");
}

#[test]
fn limit_text_size() {
    let rule = format!("vip or {}", "age > 1 or ".repeat(7_000)) + "vip";
    assert!(rule.len() > 64 * 1024);
    insta::assert_snapshot!(one(&rule));
}

#[test]
fn depth_at_the_limit_is_accepted() {
    let rule = format!("{}vip{}", "(".repeat(64), ")".repeat(64));
    let set = SegmentSet::compile(
        common::catalog(chrono_tz::UTC),
        vec![SegmentDef {
            name: "deep".into(),
            rule,
            ..Default::default()
        }],
        vec![],
    );
    assert!(set.is_ok());
}

// Cycles.
#[test]
fn cycle() {
    insta::assert_snapshot!(error_of(&[
        ("a", r#"vip and in segment "b""#),
        ("b", r#"age > 3 or in segment "c""#),
        ("c", r#"in segment "a""#),
    ]));
}

#[test]
fn self_reference() {
    insta::assert_snapshot!(error_of(&[("a", r#"vip or in segment "a""#)]));
}
