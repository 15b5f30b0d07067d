//! What the config file says, with the span of every key, before any checking.

use super::{ConflictPolicy, Encoding, Format, UnknownCustomerPolicy};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) project: RawProject,
    pub(super) sources: Option<Spanned<RawSources>>,
    #[serde(default)]
    pub(super) features: RawFeatures,
    #[serde(default)]
    pub(super) rfm: RawRfm,
    #[serde(default)]
    pub(super) segments: BTreeMap<Spanned<String>, Spanned<RawSegment>>,
    #[serde(default)]
    pub(super) groups: BTreeMap<Spanned<String>, Spanned<RawGroup>>,
    pub(super) clustering: Option<Spanned<RawClustering>>,
    pub(super) clv: Option<Spanned<RawClv>>,
    #[serde(default)]
    pub(super) consent: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub(super) exports: BTreeMap<Spanned<String>, Spanned<RawExport>>,
    pub(super) store: Option<Spanned<RawStore>>,
}

/// `[store]`: where runs are recorded and how many are kept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub(super) path: Option<Spanned<String>>,
    pub(super) keep: Option<Spanned<i64>>,
    pub(super) enabled: Option<bool>,
}

/// `[exports.NAME]`: an audience file for one channel.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExport {
    pub(super) segment: Spanned<String>,
    pub(super) channel: Spanned<String>,
    pub(super) fields: Option<Vec<Spanned<String>>>,
    pub(super) holdout: Option<Spanned<f64>>,
    pub(super) format: Option<Spanned<String>>,
    pub(super) description: Option<String>,
}

/// `[clv]`: lifetime value and churn.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClv {
    pub(super) model: Option<Spanned<String>>,
    pub(super) time_unit: Option<super::TimeUnitName>,
    pub(super) period: Option<Spanned<String>>,
    pub(super) horizon: Option<Spanned<i64>>,
    pub(super) discount_rate: Option<Spanned<f64>>,
    pub(super) churn_thresholds: Option<Spanned<Vec<f64>>>,
    pub(super) penalizer: Option<Spanned<f64>>,
    pub(super) holdout_days: Option<Spanned<i64>>,
    pub(super) intervals: Option<bool>,
}

/// `[clustering]`: statistical segments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClustering {
    pub(super) features: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) categorical: Vec<Spanned<String>>,
    pub(super) transform: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub(super) transforms: BTreeMap<Spanned<String>, Spanned<Vec<Spanned<String>>>>,
    pub(super) method: Option<Spanned<String>>,
    pub(super) k: Option<Spanned<toml::Value>>,
    pub(super) k_range: Option<Spanned<Vec<i64>>>,
    pub(super) seed: Option<Spanned<i64>>,
    pub(super) n_init: Option<Spanned<i64>>,
    pub(super) min_share: Option<Spanned<f64>>,
    pub(super) missing: Option<Spanned<String>>,
    pub(super) gamma: Option<Spanned<f64>>,
    pub(super) minibatch_above: Option<Spanned<i64>>,
    pub(super) order_by: Option<Spanned<String>>,
}

/// `[segments.NAME]`: a rule in the segment language.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSegment {
    pub(super) rule: Spanned<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
}

/// `[groups.NAME]`: ordered, mutually exclusive segments.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGroup {
    pub(super) segments: Spanned<Vec<Spanned<String>>>,
    pub(super) description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeatures {
    pub(super) windows: Option<Spanned<Vec<i64>>>,
    pub(super) time_unit: Option<super::TimeUnitName>,
    pub(super) events: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub(super) custom: BTreeMap<Spanned<String>, Spanned<RawCustomEntry>>,
}

/// A custom feature: `"SQL aggregate"` (over orders) or `{ over = "events", sql = "..." }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCustom {
    pub(super) over: Option<super::CustomOver>,
    /// Spanned when given as a table; the bare-string form takes the entry's span.
    pub(super) sql: Spanned<String>,
    pub(super) description: Option<String>,
}

pub(super) struct RawCustomEntry(pub(super) RawCustom);

impl<'de> Deserialize<'de> for RawCustomEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCustomEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a SQL aggregate expression, or a table such as { over = \"events\", sql = \"count(*)\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawCustomEntry, E> {
                Ok(RawCustomEntry(RawCustom {
                    over: None,
                    sql: Spanned::new(0..0, v.to_string()),
                    description: None,
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawCustomEntry, A::Error> {
                RawCustom::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawCustomEntry)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRfm {
    pub(super) bins: Option<Spanned<i64>>,
    pub(super) segments: Option<Vec<Spanned<RawRfmSegment>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRfmSegment {
    pub(super) name: String,
    #[serde(default, deserialize_with = "score_range")]
    pub(super) r: Option<[u8; 2]>,
    #[serde(default, deserialize_with = "score_range")]
    pub(super) f: Option<[u8; 2]>,
    #[serde(default, deserialize_with = "score_range")]
    pub(super) m: Option<[u8; 2]>,
    #[serde(default, deserialize_with = "score_range")]
    pub(super) fm: Option<[u8; 2]>,
}

/// An RFM rule's `[lowest, highest]`: exactly two whole scores (whether they fit the bins is
/// checked later, with the rule's place).
fn score_range<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 2]>, D::Error> {
    struct Range;
    const EXPECTED: &str = "[lowest, highest], two whole scores";
    impl<'de> Visitor<'de> for Range {
        type Value = [u8; 2];
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(EXPECTED)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; 2], A::Error> {
            let mut scores = Vec::new();
            while let Some(Score(s)) = seq.next_element()? {
                scores.push(s);
            }
            <[u8; 2]>::try_from(scores.as_slice())
                .map_err(|_| de::Error::invalid_length(scores.len(), &EXPECTED))
        }
    }
    struct Score(u8);
    impl<'de> Deserialize<'de> for Score {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Score;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a whole score (1 to the number of bins)")
                }
                fn visit_i64<E: de::Error>(self, v: i64) -> Result<Score, E> {
                    u8::try_from(v)
                        .map(Score)
                        .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
                }
            }
            d.deserialize_any(V)
        }
    }
    d.deserialize_seq(Range).map(Some)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) name: Option<String>,
    pub(super) as_of: Option<Spanned<toml::Value>>,
    pub(super) time_zone: Option<Spanned<String>>,
    pub(super) money_decimals: Option<Spanned<i64>>,
    pub(super) batch_rows: Option<Spanned<i64>>,
    pub(super) on_conflict: Option<ConflictPolicy>,
    pub(super) unknown_customers: Option<UnknownCustomerPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSources {
    pub(super) customers: Option<Spanned<RawSource>>,
    pub(super) orders: Option<Spanned<RawSource>>,
    pub(super) events: Option<Spanned<RawSource>>,
    pub(super) feedback: Option<Spanned<RawSource>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub(super) path: Spanned<String>,
    pub(super) format: Option<Format>,
    pub(super) csv: Option<RawCsv>,
    #[serde(default)]
    pub(super) columns: BTreeMap<Spanned<String>, Spanned<RawField>>,
    #[serde(default)]
    pub(super) attributes: BTreeMap<Spanned<String>, Spanned<RawField>>,
    pub(super) date_format: Option<Spanned<String>>,
    pub(super) timestamp_format: Option<Spanned<String>>,
    pub(super) time_zone: Option<Spanned<String>>,
    pub(super) decimal_separator: Option<Spanned<String>>,
    pub(super) thousands_separator: Option<Spanned<String>>,
    pub(super) on_conflict: Option<ConflictPolicy>,
    pub(super) unknown_customers: Option<UnknownCustomerPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCsv {
    pub(super) delimiter: Option<Spanned<String>>,
    pub(super) header: Option<bool>,
    pub(super) quote: Option<Spanned<String>>,
    pub(super) encoding: Option<Encoding>,
}

/// A field mapping: `"Column"`, `3` (1-based position) or a table with details.
pub(super) struct RawField(pub(super) RawFieldTable);

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFieldTable {
    pub(super) column: Option<Spanned<RawColumn>>,
    #[serde(rename = "type")]
    pub(super) ty: Option<Spanned<String>>,
    pub(super) format: Option<Spanned<String>>,
    pub(super) values: Option<Vec<String>>,
    pub(super) separator: Option<Spanned<String>>,
    pub(super) min: Option<Spanned<toml::Value>>,
    pub(super) max: Option<Spanned<toml::Value>>,
    pub(super) required: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawColumn {
    Name(String),
    Index(i64),
}

impl<'de> Deserialize<'de> for RawField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawField;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name, a 1-based column number, or a table such as { column = \"Total\", type = \"money\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawField, E> {
                Ok(RawField(RawFieldTable {
                    column: Some(Spanned::new(0..0, RawColumn::Name(v.to_string()))),
                    ..Default::default()
                }))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawField, E> {
                Ok(RawField(RawFieldTable {
                    column: Some(Spanned::new(0..0, RawColumn::Index(v))),
                    ..Default::default()
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawField, A::Error> {
                RawFieldTable::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawField)
            }
        }
        d.deserialize_any(V)
    }
}
