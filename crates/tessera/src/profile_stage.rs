//! The profiles stage: the run's customer row and segment memberships handed to
//! `tessera-profile`, written as `OUT/profiles.json`.

use crate::Failure;
use crate::segment_stage::{Evaluated, first_match};
use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use std::collections::BTreeMap;
use std::path::Path;
use tessera_profile::{Column, Family, FamilyKind, Profiles, Roles, Table};
use tessera_rules::Type;

/// A column of the customer row as the profiles read it; `None` for dates, times and lists.
fn column(a: &ArrayRef, ty: Type, scale: f64) -> Result<Option<Column>, Failure> {
    Ok(match ty {
        Type::Int | Type::Float | Type::Money => {
            let f = arrow_cast::cast(a, &DataType::Float64)?;
            let f = f.as_primitive::<Float64Type>();
            let div = if ty == Type::Money { scale } else { 1.0 };
            Some(Column::Number(
                f.iter().map(|v| v.map(|v| v / div)).collect(),
            ))
        }
        Type::String | Type::Bool => {
            let s = arrow_cast::cast(a, &DataType::Utf8)?;
            let s = s.as_string::<i32>();
            let mut values: Vec<String> = Vec::new();
            let mut index: BTreeMap<&str, u32> = BTreeMap::new();
            let mut codes = Vec::with_capacity(s.len());
            for v in s.iter() {
                codes.push(v.map(|v| {
                    *index.entry(v).or_insert_with(|| {
                        values.push(v.to_string());
                        (values.len() - 1) as u32
                    })
                }));
            }
            Some(Column::Category { values, codes })
        }
        Type::Date | Type::Timestamp | Type::List => None,
    })
}

/// Rows grouped by the value of a column (in value order), for a family from a column.
fn by_value(
    a: &ArrayRef,
    label: impl Fn(&str) -> String,
) -> Result<Vec<(String, Vec<u32>)>, Failure> {
    let s = arrow_cast::cast(a, &DataType::Utf8)?;
    let s = s.as_string::<i32>();
    let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (r, v) in s.iter().enumerate() {
        if let Some(v) = v {
            groups.entry(v.to_string()).or_default().push(r as u32);
        }
    }
    Ok(groups.into_iter().map(|(k, v)| (label(&k), v)).collect())
}

/// Every family of the run: rule segments, groups, RFM names, clusters, churn-risk bands.
fn families(ev: &Evaluated) -> Result<Vec<Family>, Failure> {
    let set = &ev.run.set;
    let table = &ev.run.customers;
    let mut out = Vec::new();
    if !set.segments.is_empty() {
        out.push(Family {
            name: "segments".into(),
            kind: FamilyKind::Segments,
            segments: set
                .segments
                .iter()
                .zip(&ev.members)
                .map(|(s, m)| {
                    (
                        s.def.name.clone(),
                        m.values().set_indices().map(|r| r as u32).collect(),
                    )
                })
                .collect(),
        });
    }
    for (g, group) in set.groups.iter().enumerate() {
        let which = first_match(set, g, &ev.members);
        let segments = group
            .members
            .iter()
            .map(|&s| {
                let rows = which
                    .iter()
                    .enumerate()
                    .filter(|(_, w)| **w == Some(s as u32))
                    .map(|(r, _)| r as u32)
                    .collect();
                (set.segments[s].def.name.clone(), rows)
            })
            .collect();
        out.push(Family {
            name: group.def.name.clone(),
            kind: FamilyKind::Group,
            segments,
        });
    }
    for (column, name, kind) in [
        ("rfm_segment", "rfm", FamilyKind::Rfm),
        ("cluster", "cluster", FamilyKind::Cluster),
        ("churn_risk", "churn_risk", FamilyKind::ChurnRisk),
    ] {
        if let Some(a) = table.column(column) {
            let mut segments = by_value(a, |v| v.to_string())?;
            if kind == FamilyKind::Cluster {
                // Numbered clusters in number order, not text order.
                segments.sort_by_key(|(k, _)| k.parse::<i64>().unwrap_or(i64::MAX));
            }
            out.push(Family {
                name: name.into(),
                kind,
                segments,
            });
        }
    }
    Ok(out)
}

/// Profiles of every family of an evaluated run.
pub fn profiles(ev: &Evaluated, money_decimals: u8) -> Result<Profiles, Failure> {
    let table = &ev.run.customers;
    let scale = 10f64.powi(i32::from(money_decimals));
    let mut t = Table {
        names: Vec::new(),
        columns: Vec::new(),
    };
    for (field, a) in table.schema.fields.iter().zip(&table.columns) {
        if let Some(c) = column(a, field.ty, scale)? {
            t.names.push(field.name.clone());
            t.columns.push(c);
        }
    }
    Ok(tessera_profile::profile(
        &t,
        &families(ev)?,
        &Roles::default(),
    ))
}

/// Writes `profiles.json` into `out`.
pub fn write(ev: &Evaluated, money_decimals: u8, out: &Path) -> Result<Profiles, Failure> {
    let p = profiles(ev, money_decimals)?;
    let path = out.join("profiles.json");
    let tmp = out.join(".profiles.json.partial");
    std::fs::write(&tmp, serde_json::to_string_pretty(&p)? + "\n")?;
    std::fs::rename(&tmp, &path)?;
    Ok(p)
}
