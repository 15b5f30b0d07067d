//! The standard segment map is total and reaches every name; user maps are checked.

use std::collections::BTreeSet;

use tessera_models::rfm::{RfmError, SegmentMap, SegmentRule, standard_rules};

const NAMES: [&str; 11] = [
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
];

fn codes(bins: u8) -> impl Iterator<Item = (u8, u8, u8)> {
    (1..=bins).flat_map(move |r| (1..=bins).flat_map(move |f| (1..=bins).map(move |m| (r, f, m))))
}

fn reached(map: &SegmentMap) -> BTreeSet<&str> {
    codes(map.bins())
        .map(|(r, f, m)| map.segment(r, f, m).unwrap())
        .collect()
}

#[test]
fn all_125_codes_have_a_name_and_all_11_names_are_reached() {
    let map = SegmentMap::standard(5).unwrap();
    assert_eq!(codes(5).count(), 125);
    assert_eq!(reached(&map), NAMES.into_iter().collect());
    let names: BTreeSet<&str> = map.names().iter().map(String::as_str).collect();
    assert_eq!(names, NAMES.into_iter().collect());
}

#[test]
fn the_standard_map_is_the_documented_grid() {
    // Rows: R from 5 down to 1; columns: F + M from 2 to 10, i.e. FM from 1 to 5 by halves.
    let grid = [
        "N P P P L L C C C",
        "N P P P L L C C C",
        "O P P P L L L L L",
        "A A E E L L L L L",
        "X H H K K K Z Z Z",
    ];
    let short = |name: &str| match name {
        "Champions" => 'C',
        "Loyal" => 'L',
        "Potential Loyalist" => 'P',
        "New Customers" => 'N',
        "Promising" => 'O',
        "Need Attention" => 'E',
        "About To Sleep" => 'A',
        "At Risk" => 'K',
        "Cannot Lose Them" => 'Z',
        "Hibernating" => 'H',
        "Lost" => 'X',
        other => panic!("unexpected {other}"),
    };
    let map = SegmentMap::standard(5).unwrap();
    for (r, f, m) in codes(5) {
        let row: Vec<char> = grid[usize::from(5 - r)]
            .split(' ')
            .map(|c| c.chars().next().unwrap())
            .collect();
        let want = row[usize::from(f + m - 2)];
        assert_eq!(
            short(map.segment(r, f, m).unwrap()),
            want,
            "r={r} f={f} m={m}"
        );
    }
}

#[test]
fn rescaled_standard_maps_are_total_for_every_bin_count() {
    for bins in 2..=10 {
        let map = SegmentMap::standard(bins).unwrap();
        assert!(
            codes(bins).all(|(r, f, m)| map.segment(r, f, m).is_some()),
            "{bins} bins"
        );
        assert!(reached(&map).iter().all(|n| NAMES.contains(n)));
    }
    assert_eq!(reached(&SegmentMap::standard(4).unwrap()).len(), 11);
    assert_eq!(reached(&SegmentMap::standard(10).unwrap()).len(), 11);
    assert_eq!(
        reached(&SegmentMap::standard(2).unwrap()),
        [
            "Champions",
            "Loyal",
            "New Customers",
            "Cannot Lose Them",
            "At Risk",
            "Lost"
        ]
        .into_iter()
        .collect()
    );
}

#[test]
fn standard_rules_as_user_rules_give_the_standard_map() {
    let map = SegmentMap::from_rules(5, standard_rules()).unwrap();
    assert_eq!(map, SegmentMap::standard(5).unwrap());
}

#[test]
fn user_rules_first_match_wins_and_names_may_repeat() {
    let rules = vec![
        SegmentRule::new("Top").r(4, 4).f(4, 4).m(4, 4),
        SegmentRule::new("Recent").r(3, 4),
        SegmentRule::new("Top").fm(4, 4),
        SegmentRule::new("Other"),
    ];
    let map = SegmentMap::from_rules(4, rules).unwrap();
    assert_eq!(map.names(), ["Top", "Recent", "Other"]);
    assert_eq!(map.segment(4, 4, 4), Some("Top"));
    assert_eq!(map.segment(4, 1, 1), Some("Recent"));
    assert_eq!(map.segment(1, 4, 4), Some("Top"));
    assert_eq!(map.segment(1, 4, 3), Some("Other")); // FM = 3.5
    assert_eq!(map.segment(5, 1, 1), None);
}

#[test]
fn user_rules_are_checked_against_the_bins() {
    let err = |bins, rules| SegmentMap::from_rules(bins, rules).unwrap_err();
    let e = err(
        4,
        vec![SegmentRule::new("Champions").r(4, 5), SegmentRule::new("x")],
    );
    assert_eq!(
        e.to_string(),
        "segment `Champions`: r = [4, 5] is not a range within 1..=4 for 4 bins"
    );
    let e = err(5, vec![SegmentRule::new("Odd").fm(3, 2)]);
    assert_eq!(
        e.to_string(),
        "segment `Odd`: fm = [3, 2] is not a range within 1..=5 for 5 bins"
    );
    let e = err(5, vec![SegmentRule::new("Zero").m(0, 2)]);
    assert!(matches!(
        e,
        RfmError::Range {
            axis: "m",
            lo: 0,
            hi: 2,
            bins: 5,
            ..
        }
    ));
    let e = err(5, vec![SegmentRule::new("a"), SegmentRule::new(" ")]);
    assert_eq!(e.to_string(), "segment rule 2 has an empty name");
    let e = err(
        3,
        vec![
            SegmentRule::new("Best").r(3, 3),
            SegmentRule::new("Rest").r(2, 3),
        ],
    );
    assert_eq!(
        e.to_string(),
        "no segment rule matches r = 1, f = 1, m = 1; end the rules with a catch-all (a rule with \
         a name and no ranges)"
    );
    assert_eq!(
        err(11, vec![]).to_string(),
        "bins must be between 2 and 10, got 11"
    );
    assert_eq!(
        SegmentMap::standard(1).unwrap_err().to_string(),
        "bins must be between 2 and 10, got 1"
    );
}

#[test]
fn rules_read_in_the_shape_of_rfm_segments_tables() {
    let json = r#"[{"name": "Champions", "r": [4, 5], "f": [4, 5], "m": [4, 5]},
                   {"name": "Slipping", "r": [1, 2], "fm": [3, 5]}, {"name": "Others"}]"#;
    let rules: Vec<SegmentRule> = serde_json::from_str(json).unwrap();
    assert_eq!(
        rules[0],
        SegmentRule::new("Champions").r(4, 5).f(4, 5).m(4, 5)
    );
    assert_eq!(rules[1], SegmentRule::new("Slipping").r(1, 2).fm(3, 5));
    let map = SegmentMap::from_rules(5, rules).unwrap();
    assert_eq!(map.segment(1, 3, 4), Some("Slipping"));
    let typo = serde_json::from_str::<SegmentRule>(r#"{"name": "x", "rr": [1, 2]}"#);
    assert!(
        typo.unwrap_err()
            .to_string()
            .starts_with("unknown field `rr`")
    );
}
