//! What changed between two snapshots: per family the migration matrix (from → to, new and gone
//! customers included), who entered and left each segment, size drift, the clusters of one run
//! matched to the other's with their centroids' drift, and the definitions that changed.

use crate::{Definition, Loaded, NONE, Result, RunInfo, SEGMENTS};
use arrow_array::Array;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Row label of customers only the later run has.
pub const NEW: &str = "(new)";
/// Column label of customers only the earlier run has.
pub const GONE: &str = "(gone)";

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub from: RunInfo,
    pub to: RunInfo,
    pub customers: Population,
    /// One migration matrix per exclusive family both runs have.
    pub families: Vec<Migration>,
    /// Per family and label (rule segments included): sizes, entered, left, drift.
    pub segments: Vec<SegmentChange>,
    pub clusters: Option<ClusterMatching>,
    pub definitions: Vec<DefinitionChange>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Population {
    pub before: u64,
    pub after: u64,
    /// In both runs.
    pub kept: u64,
    /// Only in the later run.
    pub new: u64,
    /// Only in the earlier run.
    pub gone: u64,
}

/// Counts of customers from each label of the earlier run (rows; last row [`NEW`]) to each
/// label of the later run (columns; last column [`GONE`]). Row `i < from.len() - 1` sums to the
/// earlier run's size of `from[i]`; column `j < to.len() - 1` sums to the later run's size of
/// `to[j]`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Migration {
    pub family: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub counts: Vec<Vec<u64>>,
}

impl Migration {
    /// Customers who moved to another label (new and gone customers not counted).
    pub fn moved(&self) -> u64 {
        let (rows, cols) = (self.from.len() - 1, self.to.len() - 1);
        let mut moved = 0;
        for i in 0..rows {
            for j in 0..cols {
                if self.from[i] != self.to[j] {
                    moved += self.counts[i][j];
                }
            }
        }
        moved
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentChange {
    pub family: String,
    pub segment: String,
    pub before: u64,
    pub after: u64,
    /// Members of the later run who were not members in the earlier one (new customers too).
    pub entered: u64,
    /// Members of the earlier run who are not members in the later one (gone customers too).
    pub left: u64,
    /// `after - before`.
    pub drift: i64,
    /// `drift / before`, when the segment had members before.
    pub drift_share: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterMatching {
    pub features: Vec<String>,
    /// Distances are measured in the earlier run's clustering space (its fitted transform).
    pub pairs: Vec<ClusterPair>,
    /// Clusters of the earlier run with no partner (it had more clusters).
    pub unmatched_from: Vec<String>,
    /// Clusters of the later run with no partner.
    pub unmatched_to: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClusterPair {
    pub from: String,
    pub to: String,
    /// Euclidean distance of the two centroids in the earlier run's clustering space.
    pub distance: f64,
    /// Per feature, the later centroid minus the earlier one, in the feature's units.
    pub drift: BTreeMap<String, f64>,
    /// Members of `from` (earlier) found in `to` (later).
    pub stayed: u64,
    /// `stayed` over the earlier cluster's size.
    pub stayed_share: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DefinitionChange {
    pub kind: String,
    pub name: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    pub before: Option<DefinitionText>,
    pub after: Option<DefinitionText>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DefinitionText {
    pub version: String,
    pub text: String,
}

/// Labels in reading order: a group's in the group's order (its definition lists the segments
/// as `a > b > c`), numbers by value when every label is one, otherwise by size (largest
/// first, then name); the no-member label last.
fn ordered(labels: impl IntoIterator<Item = (String, u64)>, group: Option<&str>) -> Vec<String> {
    let mut v: Vec<(String, u64)> = labels.into_iter().collect();
    if let Some(order) = group {
        let order: Vec<&str> = order.split(" > ").collect();
        let rank = |l: &str| order.iter().position(|o| *o == l).unwrap_or(order.len());
        v.sort_by(|(a, _), (b, _)| (a == NONE, rank(a), a).cmp(&(b == NONE, rank(b), b)));
        return v.into_iter().map(|(l, _)| l).collect();
    }
    let numeric = v.iter().all(|(l, _)| l == NONE || l.parse::<f64>().is_ok());
    v.sort_by(|(a, na), (b, nb)| {
        (a == NONE).cmp(&(b == NONE)).then_with(|| {
            if numeric {
                let (x, y) = (
                    a.parse::<f64>().unwrap_or(0.0),
                    b.parse::<f64>().unwrap_or(0.0),
                );
                x.total_cmp(&y)
            } else {
                nb.cmp(na).then_with(|| a.cmp(b))
            }
        })
    });
    v.into_iter().map(|(l, _)| l).collect()
}

/// Compares an earlier snapshot `a` with a later one `b`.
pub fn diff(a: &Loaded, b: &Loaded) -> Result<Diff> {
    let ids_a = Coded::strings(&a.assignments, "customer_id")?;
    let ids_b = Coded::strings(&b.assignments, "customer_id")?;
    let (na, nb) = (ids_a.len(), ids_b.len());
    let index_a: HashMap<&str, usize> = (0..na).map(|i| (ids_a.value(i), i)).collect();
    // For each row of b, its row in a.
    let in_a: Vec<Option<usize>> = (0..nb)
        .map(|j| index_a.get(ids_b.value(j)).copied())
        .collect();
    drop(index_a);
    let kept = in_a.iter().flatten().count() as u64;
    let mut seen_a = vec![false; na];
    for &i in in_a.iter().flatten() {
        seen_a[i] = true;
    }
    let customers = Population {
        before: na as u64,
        after: nb as u64,
        kept,
        new: nb as u64 - kept,
        gone: na as u64 - kept,
    };
    let mut families = Vec::new();
    let mut segments = Vec::new();
    for family in a.families.iter().filter(|f| b.families.contains(f)) {
        let la = Coded::column(&a.assignments, family)?;
        let lb = Coded::column(&b.assignments, family)?;
        let group = b
            .definitions
            .iter()
            .find(|d| d.kind == "group" && d.name == *family)
            .map(|d| d.text.as_str());
        let m = migration(family, &la, &lb, &in_a, &seen_a, group);
        segments.extend(changes_of(&m));
        families.push(m);
    }
    segments.extend(rule_segment_changes(a, b, &in_a, &seen_a)?);
    let clusters = match families.iter().find(|m| m.family == "cluster") {
        Some(m) => match_clusters(&a.run, &b.run, m),
        None => None,
    };
    Ok(Diff {
        from: a.info.clone(),
        to: b.info.clone(),
        customers,
        families,
        segments,
        clusters,
        definitions: definition_changes(&a.definitions, &b.definitions),
    })
}

/// A column of labels as small integer codes: `names[codes[row]]` is the row's label.
struct Coded {
    names: Vec<String>,
    codes: Vec<u32>,
}

impl Coded {
    /// A column cast to strings.
    fn strings(batch: &arrow_array::RecordBatch, column: &str) -> Result<arrow_array::StringArray> {
        use arrow_array::cast::AsArray;
        let a = batch.column_by_name(column).ok_or_else(|| {
            crate::StoreError::NotFound(format!("the snapshot has no column `{column}`"))
        })?;
        let s = arrow_cast::cast(a, &arrow_schema::DataType::Utf8)?;
        Ok(s.as_string::<i32>().clone())
    }

    /// A family's column; nulls get the label [`NONE`].
    fn column(batch: &arrow_array::RecordBatch, column: &str) -> Result<Self> {
        let s = Self::strings(batch, column)?;
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut names = Vec::new();
        let codes = (0..s.len())
            .map(|i| {
                let v = if s.is_valid(i) { s.value(i) } else { NONE };
                *index.entry(v).or_insert_with(|| {
                    names.push(v.to_string());
                    names.len() as u32 - 1
                })
            })
            .collect();
        Ok(Self { names, codes })
    }

    fn counts(&self) -> Vec<u64> {
        let mut c = vec![0u64; self.names.len()];
        for &k in &self.codes {
            c[k as usize] += 1;
        }
        c
    }
}

fn migration(
    family: &str,
    la: &Coded,
    lb: &Coded,
    in_a: &[Option<usize>],
    seen_a: &[bool],
    group: Option<&str>,
) -> Migration {
    // One order for both axes (by the two runs' sizes together), so the diagonal lines up.
    let mut both: BTreeMap<String, u64> = BTreeMap::new();
    for c in [la, lb] {
        for (name, n) in c.names.iter().zip(c.counts()) {
            *both.entry(name.clone()).or_default() += n;
        }
    }
    let order = ordered(both, group);
    let mut from: Vec<String> = order
        .iter()
        .filter(|l| la.names.contains(l))
        .cloned()
        .collect();
    let mut to: Vec<String> = order
        .iter()
        .filter(|l| lb.names.contains(l))
        .cloned()
        .collect();
    // Code → row (column) of the matrix.
    let place = |c: &Coded, order: &[String]| -> Vec<usize> {
        c.names
            .iter()
            .map(|n| {
                order
                    .iter()
                    .position(|o| o == n)
                    .expect("every label is ordered")
            })
            .collect()
    };
    let (row, col) = (place(la, &from), place(lb, &to));
    let (new_row, gone_col) = (from.len(), to.len());
    let mut counts = vec![vec![0u64; to.len() + 1]; from.len() + 1];
    for (j, &code) in lb.codes.iter().enumerate() {
        let r = in_a[j].map_or(new_row, |i| row[la.codes[i] as usize]);
        counts[r][col[code as usize]] += 1;
    }
    for (i, &code) in la.codes.iter().enumerate() {
        if !seen_a[i] {
            counts[row[code as usize]][gone_col] += 1;
        }
    }
    from.push(NEW.to_string());
    to.push(GONE.to_string());
    Migration {
        family: family.to_string(),
        from,
        to,
        counts,
    }
}

fn change(
    family: &str,
    segment: &str,
    before: u64,
    after: u64,
    entered: u64,
    left: u64,
) -> SegmentChange {
    let drift = after as i64 - before as i64;
    SegmentChange {
        family: family.to_string(),
        segment: segment.to_string(),
        before,
        after,
        entered,
        left,
        drift,
        drift_share: (before > 0).then(|| drift as f64 / before as f64),
    }
}

/// Entered, left and drift of each label, read off a migration matrix.
fn changes_of(m: &Migration) -> Vec<SegmentChange> {
    let (rows, cols) = (m.from.len() - 1, m.to.len() - 1);
    let mut labels: Vec<&String> = m.from[..rows].iter().collect();
    labels.extend(m.to[..cols].iter().filter(|l| !m.from[..rows].contains(l)));
    labels
        .into_iter()
        .map(|l| {
            let i = m.from[..rows].iter().position(|x| x == l);
            let j = m.to[..cols].iter().position(|x| x == l);
            let before: u64 = i.map_or(0, |i| m.counts[i].iter().sum());
            let after: u64 = j.map_or(0, |j| m.counts.iter().map(|r| r[j]).sum());
            let stayed = match (i, j) {
                (Some(i), Some(j)) => m.counts[i][j],
                _ => 0,
            };
            change(&m.family, l, before, after, after - stayed, before - stayed)
        })
        .collect()
}

/// Each row's rule segments as codes into `names` (sorted), `offsets[r]..offsets[r + 1]`.
struct Lists {
    offsets: Vec<usize>,
    codes: Vec<usize>,
}

impl Lists {
    fn of(batch: &arrow_array::RecordBatch, index: &HashMap<&str, usize>) -> Self {
        use arrow_array::cast::AsArray;
        let mut offsets = vec![0];
        let mut codes = Vec::new();
        if let Some(list) = batch
            .column_by_name(SEGMENTS)
            .and_then(|a| a.as_list_opt::<i32>())
        {
            let values = list.values().as_string::<i32>();
            let o = list.value_offsets();
            for r in 0..list.len() {
                if list.is_valid(r) {
                    let start = codes.len();
                    codes.extend(
                        (o[r] as usize..o[r + 1] as usize)
                            .filter(|&k| values.is_valid(k))
                            .filter_map(|k| index.get(values.value(k)).copied()),
                    );
                    codes[start..].sort_unstable();
                }
                offsets.push(codes.len());
            }
        } else {
            offsets.resize(batch.num_rows() + 1, 0);
        }
        Self { offsets, codes }
    }

    fn row(&self, r: usize) -> &[usize] {
        &self.codes[self.offsets[r]..self.offsets[r + 1]]
    }
}

/// Entered and left of each rule segment (segments overlap, so no matrix).
fn rule_segment_changes(
    a: &Loaded,
    b: &Loaded,
    in_a: &[Option<usize>],
    seen_a: &[bool],
) -> Result<Vec<SegmentChange>> {
    if a.assignments.column_by_name(SEGMENTS).is_none()
        && b.assignments.column_by_name(SEGMENTS).is_none()
    {
        return Ok(Vec::new());
    }
    // Every segment either run defines or holds members of.
    let mut names: Vec<String> = Vec::new();
    for d in a.definitions.iter().chain(&b.definitions) {
        if d.kind == "segment" {
            names.push(d.name.clone());
        }
    }
    for (_, sizes) in [&a.sizes, &b.sizes]
        .iter()
        .filter_map(|s| s.get_key_value(SEGMENTS))
    {
        names.extend(sizes.keys().cloned());
    }
    names.sort();
    names.dedup();
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let (sa, sb) = (
        Lists::of(&a.assignments, &index),
        Lists::of(&b.assignments, &index),
    );
    let n = names.len();
    let (mut before, mut after, mut entered, mut left) =
        (vec![0u64; n], vec![0u64; n], vec![0u64; n], vec![0u64; n]);
    for &s in &sa.codes {
        before[s] += 1;
    }
    for &s in &sb.codes {
        after[s] += 1;
    }
    for (j, was) in in_a.iter().enumerate() {
        let now = sb.row(j);
        let was = was.map_or(&[][..], |i| sa.row(i));
        // Both sorted: one merge finds who entered and who left.
        let (mut p, mut q) = (0, 0);
        while p < was.len() || q < now.len() {
            match (was.get(p), now.get(q)) {
                (Some(x), Some(y)) if x == y => {
                    p += 1;
                    q += 1;
                }
                (Some(x), Some(y)) if x < y => {
                    left[*x] += 1;
                    p += 1;
                }
                (Some(x), None) => {
                    left[*x] += 1;
                    p += 1;
                }
                (_, Some(y)) => {
                    entered[*y] += 1;
                    q += 1;
                }
                (None, None) => unreachable!(),
            }
        }
    }
    for (i, seen) in seen_a.iter().enumerate() {
        if !seen {
            for &s in sa.row(i) {
                left[s] += 1;
            }
        }
    }
    Ok(names
        .iter()
        .enumerate()
        .map(|(k, s)| change(SEGMENTS, s, before[k], after[k], entered[k], left[k]))
        .collect())
}

fn definition_changes(a: &[Definition], b: &[Definition]) -> Vec<DefinitionChange> {
    let key = |d: &Definition| (d.kind.clone(), d.name.clone());
    let text = |d: &Definition| DefinitionText {
        version: d.version.clone(),
        text: d.text.clone(),
    };
    let ma: BTreeMap<_, _> = a.iter().map(|d| (key(d), d)).collect();
    let mb: BTreeMap<_, _> = b.iter().map(|d| (key(d), d)).collect();
    let mut keys: Vec<&(String, String)> = ma.keys().chain(mb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (ma.get(k), mb.get(k));
            let change = match (x, y) {
                (Some(x), Some(y)) if x.version == y.version => return None,
                (Some(_), Some(_)) => "changed",
                (Some(_), None) => "removed",
                (None, Some(_)) => "added",
                (None, None) => return None,
            };
            Some(DefinitionChange {
                kind: k.0.clone(),
                name: k.1.clone(),
                change: change.to_string(),
                before: x.map(|d| text(d)),
                after: y.map(|d| text(d)),
            })
        })
        .collect()
}

/// Cluster label → centroid (in `features` order) from a run summary's clustering report.
fn centroids(run: &serde_json::Value, features: &[String]) -> Option<Vec<(String, Vec<f64>)>> {
    run["clustering"]["clusters"]
        .as_array()?
        .iter()
        .map(|c| {
            let label = match &c["cluster"] {
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let center = features
                .iter()
                .map(|f| c["center"][f].as_f64())
                .collect::<Option<Vec<f64>>>()?;
            Some((label, center))
        })
        .collect()
}

/// Matches the earlier run's clusters to the later run's: the pairing with the least total
/// centroid distance (Hungarian algorithm) in the earlier run's clustering space.
fn match_clusters(
    a: &serde_json::Value,
    b: &serde_json::Value,
    migration: &Migration,
) -> Option<ClusterMatching> {
    use tessera_models::cluster::labels::min_cost_assignment;
    use tessera_models::cluster::{FittedTransform, Matrix};
    let features: Vec<String> = serde_json::from_value(a["clustering"]["features"].clone()).ok()?;
    let features_b: Vec<String> =
        serde_json::from_value(b["clustering"]["features"].clone()).ok()?;
    if features != features_b || features.is_empty() {
        return None;
    }
    let ca = centroids(a, &features)?;
    let cb = centroids(b, &features)?;
    if ca.is_empty() || cb.is_empty() {
        return None;
    }
    let transform: Option<FittedTransform> =
        serde_json::from_value(a["clustering"]["transform"].clone()).ok();
    let space = |cs: &[(String, Vec<f64>)]| -> Vec<Vec<f64>> {
        let raw: Vec<Vec<f64>> = cs.iter().map(|(_, c)| c.clone()).collect();
        let mapped = transform.as_ref().and_then(|t| {
            let m = Matrix::from_rows(&raw).ok()?;
            let out = t.apply(&m).ok()?;
            Some((0..out.rows()).map(|i| out.row(i).to_vec()).collect())
        });
        mapped.unwrap_or(raw)
    };
    let (sa, sb) = (space(&ca), space(&cb));
    // Distances between the old centres (rows) and the new (columns), row-major. A centre that
    // is not a finite point matches nothing.
    let cost: Vec<f64> = sa
        .iter()
        .flat_map(|x| {
            sb.iter().map(move |y| {
                x.iter()
                    .zip(y)
                    .map(|(p, q)| (p - q) * (p - q))
                    .sum::<f64>()
                    .sqrt()
            })
        })
        .collect();
    let assignment = min_cost_assignment(&cost, sa.len(), sb.len()).ok()?;
    let cell = |from: &str, to: &str| -> (u64, u64) {
        let i = migration.from.iter().position(|l| l == from);
        let j = migration.to.iter().position(|l| l == to);
        let size = i.map_or(0, |i| migration.counts[i].iter().sum());
        let stayed = match (i, j) {
            (Some(i), Some(j)) => migration.counts[i][j],
            _ => 0,
        };
        (stayed, size)
    };
    let mut pairs = Vec::new();
    let mut matched_b = vec![false; cb.len()];
    for (i, j) in assignment.iter().enumerate() {
        let Some(j) = *j else { continue };
        matched_b[j] = true;
        let (stayed, size) = cell(&ca[i].0, &cb[j].0);
        pairs.push(ClusterPair {
            from: ca[i].0.clone(),
            to: cb[j].0.clone(),
            distance: cost[i * cb.len() + j],
            drift: features
                .iter()
                .enumerate()
                .map(|(k, f)| (f.clone(), cb[j].1[k] - ca[i].1[k]))
                .collect(),
            stayed,
            stayed_share: if size == 0 {
                0.0
            } else {
                stayed as f64 / size as f64
            },
        });
    }
    Some(ClusterMatching {
        features,
        pairs,
        unmatched_from: assignment
            .iter()
            .enumerate()
            .filter(|(_, j)| j.is_none())
            .map(|(i, _)| ca[i].0.clone())
            .collect(),
        unmatched_to: cb
            .iter()
            .zip(&matched_b)
            .filter(|(_, m)| !**m)
            .map(|(c, _)| c.0.clone())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run summary with a clustering over `x` and `y` and these cluster centres.
    fn clustered(centres: &[(&str, f64, f64)]) -> serde_json::Value {
        let clusters: Vec<serde_json::Value> = centres
            .iter()
            .map(|(c, x, y)| serde_json::json!({"cluster": c, "center": {"x": x, "y": y}}))
            .collect();
        serde_json::json!({"clustering": {"features": ["x", "y"], "clusters": clusters}})
    }

    #[test]
    fn clusters_match_by_least_total_distance_and_extra_ones_stay_unmatched() {
        // Old clusters 0 and 2 sit near new clusters b and a; old cluster 1 is far from both.
        let old = clustered(&[("0", 0.0, 0.0), ("1", 50.0, 50.0), ("2", 9.0, 0.0)]);
        let new = clustered(&[("a", 9.0, 1.0), ("b", 0.0, 1.0)]);
        let migration = Migration {
            family: "cluster".into(),
            from: vec!["0".into(), "1".into(), "2".into(), NONE.into()],
            to: vec!["a".into(), "b".into(), NONE.into()],
            counts: vec![vec![1, 7, 0], vec![2, 2, 0], vec![5, 0, 1], vec![0, 0, 0]],
        };
        let m = match_clusters(&old, &new, &migration).unwrap();
        let pairs: Vec<(&str, &str, f64, u64)> = m
            .pairs
            .iter()
            .map(|p| (p.from.as_str(), p.to.as_str(), p.distance, p.stayed))
            .collect();
        assert_eq!(pairs, [("0", "b", 1.0, 7), ("2", "a", 1.0, 5)]);
        assert_eq!(m.unmatched_from, ["1"]);
        assert!(m.unmatched_to.is_empty());
        // A centre that is not a number matches nothing.
        let broken = clustered(&[("0", 0.0, f64::NAN)]);
        assert!(match_clusters(&broken, &new, &migration).is_none());
    }

    #[test]
    fn labels_order_numbers_by_value_and_none_last() {
        let l = ordered([("10".into(), 1), ("2".into(), 5), (NONE.into(), 9)], None);
        assert_eq!(l, ["2", "10", NONE]);
        let l = ordered([("b".into(), 1), ("a".into(), 1), ("c".into(), 7)], None);
        assert_eq!(l, ["c", "a", "b"]);
        let tiers = [("silver".into(), 9), (NONE.into(), 20), ("gold".into(), 1)];
        let l = ordered(tiers, Some("platinum > gold > silver"));
        assert_eq!(l, ["gold", "silver", NONE]);
    }
}
