//! Parameters, input checks and the shape of results.

use tessera_models::rfm::{NO_PURCHASE, RfmInput, RfmParams, SegmentMap, SegmentRule};

fn input<'a>(
    ids: &'a [&'a str],
    recency: &'a [Option<i64>],
    n: &'a [u64],
    m: &'a [i64],
) -> RfmInput<'a> {
    RfmInput {
        customer_id: ids,
        recency_days: recency,
        frequency: n,
        monetary_minor: m,
    }
}

#[test]
fn bins_outside_2_to_10_are_refused() {
    for bins in [0, 1, 11, 12, 255] {
        let err = RfmParams::new().bins(bins).check().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("bins must be between 2 and 10, got {bins}")
        );
    }
    for bins in 2..=10 {
        assert_eq!(RfmParams::new().bins(bins).check().unwrap().bins(), bins);
    }
}

#[test]
fn a_map_for_other_bins_is_refused() {
    let map = SegmentMap::standard(5).unwrap();
    let err = RfmParams::new().bins(4).map(map).check().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the segment map is for 5 bins but bins is 4"
    );
}

#[test]
fn columns_of_different_lengths_are_named() {
    let model = RfmParams::new().check().unwrap();
    let err = model
        .score(&input(&["a", "b"], &[Some(1)], &[1, 2], &[1, 2]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input columns differ in length: customer_id has 2, recency_days 1, frequency 2, monetary_minor 2"
    );
}

#[test]
fn a_repeated_customer_is_an_error_even_without_purchases() {
    let model = RfmParams::new().check().unwrap();
    let ids = ["b", "a", "c", "a"];
    let err = model.score(&input(
        &ids,
        &[Some(1), None, Some(2), None],
        &[1, 0, 2, 0],
        &[5, 0, 6, 0],
    ));
    assert_eq!(
        err.unwrap_err().to_string(),
        "customer_id `a` appears more than once (rows 1 and 3)"
    );
}

#[test]
fn empty_input_scores_nothing() {
    let model = RfmParams::new().check().unwrap();
    assert_eq!(model.score(&input(&[], &[], &[], &[])).unwrap(), []);
}

#[test]
fn fewer_customers_than_bins_take_the_lowest_buckets() {
    let model = RfmParams::new().check().unwrap();
    let scores = model
        .score(&input(&["x", "y"], &[Some(9), Some(1)], &[1, 1], &[10, 10]))
        .unwrap();
    let got: Vec<_> = scores.iter().map(|s| s.code.as_deref().unwrap()).collect();
    assert_eq!(got, ["111", "222"]); // ties in F and M broken by id: "x" < "y"
}

#[test]
fn no_purchase_customers_get_no_scores() {
    let model = RfmParams::new().bins(4).check().unwrap();
    let scores = model
        .score(&input(&["p", "q"], &[None, Some(3)], &[0, 1], &[0, 100]))
        .unwrap();
    assert_eq!(
        (
            scores[0].r,
            scores[0].f,
            scores[0].m,
            scores[0].code.as_ref()
        ),
        (None, None, None, None)
    );
    assert_eq!(scores[0].segment, NO_PURCHASE);
    assert_eq!(scores[1].code.as_deref(), Some("111"));
    assert_eq!(
        model
            .tiles(&input(&["p", "q"], &[None, Some(3)], &[0, 1], &[0, 100]))
            .unwrap(),
        [[0, 1], [0, 1], [0, 1]]
    );
}

#[test]
fn ten_bins_join_the_code_with_dashes() {
    let ids: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let recency: Vec<_> = (0..10).map(Some).collect();
    let freq: Vec<u64> = (0..10).collect();
    let money: Vec<i64> = (0..10).rev().collect();
    let scores = RfmParams::new()
        .bins(10)
        .check()
        .unwrap()
        .score(&input(&ids, &recency, &freq, &money))
        .unwrap();
    assert_eq!(scores[0].code.as_deref(), Some("10-1-10"));
    assert_eq!(scores[9].code.as_deref(), Some("1-10-1"));
}

#[test]
fn a_custom_map_names_the_segments() {
    let map = SegmentMap::from_rules(
        2,
        vec![SegmentRule::new("Recent").r(2, 2), SegmentRule::new("Old")],
    )
    .unwrap();
    let model = RfmParams::new().bins(2).map(map).check().unwrap();
    let scores = model
        .score(&input(&["a", "b"], &[Some(30), Some(2)], &[1, 1], &[1, 1]))
        .unwrap();
    assert_eq!(
        [scores[0].segment.as_str(), scores[1].segment.as_str()],
        ["Old", "Recent"]
    );
}
