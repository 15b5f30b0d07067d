//! Glue between the stages of a run: the RFM model's scores become columns of the feature table.

use crate::Failure;
use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt8Array};
use arrow_schema::{Field, Schema};
use std::sync::Arc;
use tessera_core::config::RfmConfig;
use tessera_models::rfm::{RfmInput, RfmParams, SegmentMap, SegmentRule};

/// The RFM scorer the config asks for: its bins, and its own segment map if it has one. A map
/// that leaves some combination of scores without a segment is refused here, at its last rule.
pub fn scorer(config: &RfmConfig) -> Result<tessera_models::rfm::CheckedRfm, Failure> {
    let mut params = RfmParams::new().bins(config.bins);
    if let Some(segments) = &config.segments {
        let rules = segments
            .iter()
            .map(|s| SegmentRule {
                name: s.name.clone(),
                r: s.r,
                f: s.f,
                m: s.m,
                fm: s.fm,
            })
            .collect();
        let map = SegmentMap::from_rules(config.bins, rules).map_err(|e| {
            let at = segments.last().map(|s| format!("{}: ", s.at));
            Failure::Input(anyhow::anyhow!(
                "{}rfm segments: {e}",
                at.unwrap_or_default()
            ))
        })?;
        params = params.map(map);
    }
    params
        .check()
        .map_err(|e| Failure::Input(anyhow::anyhow!("rfm: {e}")))
}

/// Adds `r_score`, `f_score`, `m_score`, `rfm_code` and `rfm_segment` to the feature table.
pub fn with_rfm(features: &RecordBatch, config: &RfmConfig) -> Result<RecordBatch, Failure> {
    let column = |name: &str| {
        features
            .column_by_name(name)
            .ok_or_else(|| anyhow::anyhow!("feature table has no `{name}`"))
    };
    let ids = column("customer_id")?.as_string::<i32>();
    let recency = column("recency_days")?.as_primitive::<Int32Type>();
    let frequency = column("frequency")?.as_primitive::<UInt32Type>();
    let monetary = column("monetary_total")?.as_primitive::<Int64Type>();
    let id: Vec<&str> = ids.iter().map(Option::unwrap_or_default).collect();
    let recency_days: Vec<Option<i64>> = recency.iter().map(|r| r.map(i64::from)).collect();
    let frequency: Vec<u64> = frequency
        .iter()
        .map(|f| u64::from(f.unwrap_or(0)))
        .collect();
    let monetary_minor: Vec<i64> = monetary.iter().map(|m| m.unwrap_or(0)).collect();
    let input = RfmInput {
        customer_id: &id,
        recency_days: &recency_days,
        frequency: &frequency,
        monetary_minor: &monetary_minor,
    };
    let scorer = scorer(config)?;
    let [r, f, m] = scorer.tiles(&input).map_err(|e| Failure::Other(e.into()))?;
    // Scores of 0 are customers who never purchased: no score, no code.
    let tile = |scores: &[u8]| {
        Arc::new(
            scores
                .iter()
                .map(|&s| (s > 0).then_some(s))
                .collect::<UInt8Array>(),
        ) as ArrayRef
    };
    let n = r.len();
    let (mut codes, mut segments) = (
        StringBuilder::with_capacity(n, n * 3),
        StringBuilder::with_capacity(n, n * 12),
    );
    let mut code = String::new();
    for row in 0..n {
        let (r, f, m) = (r[row], f[row], m[row]);
        segments.append_value(scorer.segment(r, f, m));
        if r == 0 {
            codes.append_null();
        } else {
            code.clear();
            scorer.write_code(r, f, m, &mut code);
            codes.append_value(&code);
        }
    }
    let added: [(&str, ArrayRef); 5] = [
        ("r_score", tile(&r)),
        ("f_score", tile(&f)),
        ("m_score", tile(&m)),
        ("rfm_code", Arc::new(codes.finish())),
        ("rfm_segment", Arc::new(segments.finish())),
    ];
    let mut fields: Vec<Field> = features
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns: Vec<ArrayRef> = features.columns().to_vec();
    for (name, array) in added {
        fields.push(Field::new(
            name,
            array.data_type().clone(),
            array.null_count() > 0 || name != "rfm_segment",
        ));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|e| Failure::Other(e.into()))
}
