//! Checking what the file says into the types of `config`, with a position for every mistake.

use super::raw::{
    RawClustering, RawClv, RawColumn, RawConfig, RawCustomEntry, RawExport, RawFeatures,
    RawFieldTable, RawGroup, RawRfm, RawSegment, RawSource, RawStore,
};
use super::*;
use crate::value::{self, LocalTime};
use toml::Spanned;

pub(super) struct Ctx<'a> {
    pub(super) text: &'a str,
    pub(super) file: String,
}

impl Ctx<'_> {
    fn at(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> ConfigError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ConfigError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let message = e.message().trim().to_string();
        let message = add_did_you_mean(&message);
        self.at(e.span().unwrap_or(0..0), message)
    }

    pub(super) fn resolve(&self, raw: RawConfig, file: &Path) -> Result<Config, ConfigError> {
        let p = raw.project;
        let time_zone = match &p.time_zone {
            Some(tz) => self.time_zone(tz)?,
            None => Tz::UTC,
        };
        let money_decimals = match &p.money_decimals {
            Some(d) if (0..=9).contains(d.get_ref()) => *d.get_ref() as u8,
            Some(d) => {
                return Err(self.at(
                    d.span(),
                    format!("money_decimals must be 0..=9, got {}", d.get_ref()),
                ));
            }
            None => 2,
        };
        let batch_rows = match &p.batch_rows {
            Some(b) if (1..=16_777_216).contains(b.get_ref()) => *b.get_ref() as usize,
            Some(b) => {
                return Err(self.at(
                    b.span(),
                    format!("batch_rows must be 1..=16777216, got {}", b.get_ref()),
                ));
            }
            None => DEFAULT_BATCH_ROWS,
        };
        let as_of = match &p.as_of {
            Some(v) => Some(self.date_value(v, "as_of")?),
            None => None,
        };
        let Some(sources) = raw.sources else {
            return Err(self.at(
                0..0,
                "no [sources] table: at least [sources.customers] is required",
            ));
        };
        let sources_span = sources.span();
        let s = sources.into_inner();
        if s.customers.is_none() {
            return Err(self.at(sources_span, "[sources.customers] is required"));
        }
        let defaults = Defaults {
            time_zone,
            money_decimals,
            on_conflict: p.on_conflict.unwrap_or(ConflictPolicy::Reject),
            unknown_customers: p.unknown_customers.unwrap_or(UnknownCustomerPolicy::Reject),
        };
        // The customers' attributes are fields of the row segment rules see, beside the feature
        // table's columns: their names must differ.
        let mut attributes: Vec<(String, std::ops::Range<usize>)> = s
            .customers
            .as_ref()
            .map(|c| {
                let names = c.get_ref().attributes.keys();
                names.map(|n| (n.get_ref().clone(), n.span())).collect()
            })
            .unwrap_or_default();
        attributes.sort_by_key(|(_, span)| span.start);
        let mut out = Vec::new();
        for (kind, src) in
            SourceKind::ALL
                .into_iter()
                .zip([s.customers, s.orders, s.events, s.feedback])
        {
            if let Some(src) = src {
                out.push(self.source(kind, src.into_inner(), &defaults)?);
            }
        }
        let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let features = self.features(&raw.features)?;
        for (name, span) in attributes {
            let custom = features
                .custom
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&name));
            let why = match custom {
                Some(c) => Some(format!("is the name of a custom feature (`{}`)", c.name)),
                None => features.column_taken(&name),
            };
            if let Some(why) = why {
                return Err(self.at(
                    span,
                    format!("attribute `{name}` {why}; segment rules could not tell them apart"),
                ));
            }
        }
        if let Some(names) = &raw.features.events
            && !out.iter().any(|s| s.kind == SourceKind::Events)
        {
            return Err(self.at(
                names.span(),
                "features.events names events to count, but the config has no [sources.events]",
            ));
        }
        let rfm = self.rfm(&raw.rfm)?;
        let segments = self.segments(&raw.segments)?;
        let groups = self.groups(&raw.groups, &segments)?;
        let clustering = raw
            .clustering
            .as_ref()
            .map(|c| self.clustering(c))
            .transpose()?;
        let clv = raw.clv.as_ref().map(|c| self.clv(c)).transpose()?;
        let consent = self.consent(&raw.consent, &out)?;
        let exports = self.exports(&raw.exports, &segments, &consent)?;
        let store = self.store(raw.store.as_ref(), &base_dir)?;
        Ok(Config {
            file: file.to_path_buf(),
            base_dir,
            name: p.name,
            as_of,
            time_zone,
            money_decimals,
            batch_rows,
            sources: out,
            features,
            rfm,
            segments,
            groups,
            clustering,
            clv,
            consent,
            exports,
            store,
        })
    }

    fn store(
        &self,
        raw: Option<&Spanned<RawStore>>,
        base_dir: &Path,
    ) -> Result<StoreConfig, ConfigError> {
        let mut c = StoreConfig {
            path: base_dir.join(DEFAULT_STORE_DIR),
            keep: DEFAULT_STORE_KEEP,
            enabled: true,
        };
        let Some(raw) = raw else { return Ok(c) };
        let r = raw.get_ref();
        if let Some(p) = &r.path {
            if p.get_ref().trim().is_empty() {
                return Err(self.at(p.span(), "store.path must not be empty"));
            }
            c.path = base_dir.join(p.get_ref());
        }
        if let Some(k) = &r.keep {
            if !(1..=100_000).contains(k.get_ref()) {
                return Err(self.at(
                    k.span(),
                    "store.keep must be 1..=100000 (the number of runs kept; set enabled = false to record none)",
                ));
            }
            c.keep = *k.get_ref() as usize;
        }
        if let Some(e) = r.enabled {
            c.enabled = e;
        }
        Ok(c)
    }

    fn consent(
        &self,
        raw: &std::collections::BTreeMap<Spanned<String>, Spanned<String>>,
        sources: &[SourceConfig],
    ) -> Result<Vec<ConsentConfig>, ConfigError> {
        let customers = sources.iter().find(|s| s.kind == SourceKind::Customers);
        let bools: Vec<&str> = customers
            .into_iter()
            .flat_map(|s| &s.fields)
            .filter(|f| f.ty == FieldType::Bool)
            .map(|f| f.name.as_str())
            .collect();
        let mut out = Vec::new();
        for (channel, attribute) in raw {
            self.lower_identifier(channel, "consent", "channel")?;
            let a = attribute.get_ref();
            if !bools.contains(&a.as_str()) {
                let what = if customers.and_then(|s| s.field(a)).is_some() {
                    format!(
                        "consent.{}: `{a}` is not a bool attribute of customers",
                        channel.get_ref()
                    )
                } else {
                    format!(
                        "consent.{}: unknown customer attribute `{a}`{}",
                        channel.get_ref(),
                        did_you_mean(a, bools.iter().copied())
                    )
                };
                return Err(self.at(attribute.span(), what));
            }
            out.push(ConsentConfig {
                channel: channel.get_ref().clone(),
                attribute: a.clone(),
            });
        }
        Ok(out)
    }

    fn exports(
        &self,
        raw: &std::collections::BTreeMap<Spanned<String>, Spanned<RawExport>>,
        segments: &[SegmentConfig],
        consent: &[ConsentConfig],
    ) -> Result<Vec<ExportConfig>, ConfigError> {
        let mut out = Vec::new();
        for (name, export) in raw {
            self.lower_identifier(name, "exports", "export")?;
            let n = name.get_ref();
            let e = export.get_ref();
            let seg = e.segment.get_ref();
            if !segments.iter().any(|s| s.name == *seg) {
                return Err(self.at(
                    e.segment.span(),
                    format!(
                        "exports.{n}.segment: unknown segment `{seg}`{}",
                        did_you_mean(seg, segments.iter().map(|s| s.name.as_str()))
                    ),
                ));
            }
            let ch = e.channel.get_ref();
            if !consent.iter().any(|c| c.channel == *ch) {
                let hint = if consent.is_empty() {
                    " (add a [consent] table naming each channel's bool attribute, e.g. email = \"email_opt_in\")".to_string()
                } else {
                    did_you_mean(ch, consent.iter().map(|c| c.channel.as_str()))
                };
                return Err(self.at(
                    e.channel.span(),
                    format!("exports.{n}.channel: `{ch}` is not a channel of [consent]{hint}"),
                ));
            }
            let holdout = match &e.holdout {
                Some(h) if !(0.0..1.0).contains(h.get_ref()) => {
                    return Err(self.at(
                        h.span(),
                        format!(
                            "exports.{n}.holdout must be a share in [0, 1), got {}",
                            h.get_ref()
                        ),
                    ));
                }
                Some(h) => *h.get_ref(),
                None => 0.0,
            };
            let format = match &e.format {
                Some(f) => ExportFormat::from_key(f.get_ref()).ok_or_else(|| {
                    self.at(
                        f.span(),
                        format!(
                            "exports.{n}.format: unknown format `{}`{}; expected csv, parquet or ndjson",
                            f.get_ref(),
                            did_you_mean(f.get_ref(), ExportFormat::ALL.iter().map(|f| f.key()))
                        ),
                    )
                })?,
                None => ExportFormat::Csv,
            };
            let (mut fields, mut fields_at) = (Vec::new(), Vec::new());
            for f in e.fields.iter().flatten() {
                if fields.contains(f.get_ref()) {
                    return Err(self.at(
                        f.span(),
                        format!("exports.{n}.fields lists `{}` twice", f.get_ref()),
                    ));
                }
                let at = self.at(f.span(), "");
                fields.push(f.get_ref().clone());
                fields_at.push(format!("{}:{}:{}", at.file, at.line, at.column));
            }
            if fields.is_empty() {
                fields.push("customer_id".to_string());
                fields_at.push(String::new());
            }
            out.push(ExportConfig {
                name: n.clone(),
                segment: seg.clone(),
                channel: ch.clone(),
                fields,
                fields_at,
                holdout,
                format,
                description: e.description.clone(),
            });
        }
        Ok(out)
    }

    fn clv(&self, raw: &Spanned<RawClv>) -> Result<ClvConfig, ConfigError> {
        let r = raw.get_ref();
        let mut c = ClvConfig::default();
        if let Some(m) = &r.model {
            let all = ["bgnbd", "pareto", "mbgnbd"];
            if !all.contains(&m.get_ref().as_str()) {
                return Err(self.at(
                    m.span(),
                    format!(
                        "clv.model: unknown model `{}`, expected one of {}{}",
                        m.get_ref(),
                        all.join(", "),
                        did_you_mean(m.get_ref(), all.into_iter())
                    ),
                ));
            }
            c.model = m.get_ref().clone();
        }
        c.time_unit = r.time_unit;
        if let Some(p) = &r.period {
            c.period = ClvPeriod::parse(p.get_ref()).ok_or_else(|| {
                self.at(
                    p.span(),
                    format!(
                        "clv.period: unknown period `{}`, expected one of {}{}",
                        p.get_ref(),
                        ClvPeriod::NAMES.join(", "),
                        did_you_mean(p.get_ref(), ClvPeriod::NAMES.into_iter())
                    ),
                )
            })?;
        }
        if let Some(h) = &r.horizon {
            if !(1..=1200).contains(h.get_ref()) {
                return Err(self.at(h.span(), "clv.horizon must be 1..=1200 periods"));
            }
            c.horizon = *h.get_ref() as u32;
        }
        if let Some(d) = &r.discount_rate {
            if !(0.0..1.0).contains(d.get_ref()) {
                return Err(self.at(
                    d.span(),
                    "clv.discount_rate must be at least 0 and below 1 (per period)",
                ));
            }
            c.discount_rate = *d.get_ref();
        }
        if let Some(t) = &r.churn_thresholds {
            match t.get_ref()[..] {
                [hi, med] if 0.0 < hi && hi <= med && med < 1.0 => c.churn_thresholds = [hi, med],
                _ => {
                    return Err(self.at(
                        t.span(),
                        "clv.churn_thresholds must be [HIGH, MEDIUM] with 0 < HIGH <= MEDIUM < 1: \
                         P(alive) below HIGH is high risk, below MEDIUM medium",
                    ));
                }
            }
        }
        if let Some(p) = &r.penalizer {
            if !(p.get_ref().is_finite() && *p.get_ref() >= 0.0) {
                return Err(self.at(p.span(), "clv.penalizer must be a number >= 0"));
            }
            c.penalizer = *p.get_ref();
        }
        if let Some(h) = &r.holdout_days {
            if !(0..=36_500).contains(h.get_ref()) {
                return Err(self.at(h.span(), "clv.holdout_days must be 0..=36500"));
            }
            c.holdout_days = *h.get_ref() as u32;
        }
        if let Some(i) = r.intervals {
            c.intervals = i;
        }
        let e = self.at(raw.span(), "");
        c.at = format!("{}:{}:{}", e.file, e.line, e.column);
        Ok(c)
    }

    fn clustering(&self, raw: &Spanned<RawClustering>) -> Result<ClusteringConfig, ConfigError> {
        let r = raw.get_ref();
        let names = |list: &[Spanned<String>], key: &str| -> Result<Vec<String>, ConfigError> {
            let mut out: Vec<String> = Vec::new();
            for n in list {
                if out.contains(n.get_ref()) {
                    return Err(self.at(
                        n.span(),
                        format!("clustering.{key} lists `{}` twice", n.get_ref()),
                    ));
                }
                out.push(n.get_ref().clone());
            }
            Ok(out)
        };
        let features = names(r.features.get_ref(), "features")?;
        let mut c = ClusteringConfig::new(features);
        c.categorical = names(&r.categorical, "categorical")?;
        if let Some(both) = r
            .categorical
            .iter()
            .find(|n| c.features.contains(n.get_ref()))
        {
            return Err(self.at(
                both.span(),
                format!(
                    "clustering: `{}` is both a numeric feature and a categorical one",
                    both.get_ref()
                ),
            ));
        }
        let steps =
            |list: &Spanned<Vec<Spanned<String>>>| -> Result<Vec<TransformStep>, ConfigError> {
                list.get_ref()
                    .iter()
                    .map(|s| TransformStep::parse(s.get_ref()).map_err(|m| self.at(s.span(), m)))
                    .collect()
            };
        if let Some(t) = &r.transform {
            c.transform = steps(t)?;
        }
        for (name, list) in &r.transforms {
            if !c.features.contains(name.get_ref()) {
                return Err(self.at(
                    name.span(),
                    format!(
                        "clustering.transforms.{}: not one of clustering.features{}",
                        name.get_ref(),
                        did_you_mean(name.get_ref(), c.features.iter().map(String::as_str))
                    ),
                ));
            }
            c.transforms.insert(name.get_ref().clone(), steps(list)?);
        }
        if let Some(m) = &r.method {
            c.method = match m.get_ref().as_str() {
                "kmeans" => ClusterMethod::Kmeans,
                "minibatch_kmeans" => ClusterMethod::MinibatchKmeans,
                "kprototypes" => ClusterMethod::Kprototypes,
                other => {
                    let all = ["kmeans", "minibatch_kmeans", "kprototypes"];
                    return Err(self.at(
                        m.span(),
                        format!(
                            "clustering.method: unknown method `{other}`, expected one of {}{}",
                            all.join(", "),
                            did_you_mean(other, all.into_iter())
                        ),
                    ));
                }
            };
        }
        if c.method == ClusterMethod::Kprototypes && c.categorical.is_empty() {
            return Err(self.at(
                raw.span(),
                "clustering: method = \"kprototypes\" needs categorical features (clustering.categorical)",
            ));
        }
        if c.features.is_empty() && c.categorical.is_empty() {
            return Err(self.at(r.features.span(), "clustering.features is empty"));
        }
        if let Some(k) = &r.k {
            c.k = match k.get_ref() {
                toml::Value::String(s) if s == "auto" => None,
                toml::Value::Integer(n) if (1..=1000).contains(n) => Some(*n as u32),
                _ => {
                    return Err(self.at(
                        k.span(),
                        "clustering.k must be \"auto\" or a number of clusters 1..=1000",
                    ));
                }
            };
        }
        if let Some(range) = &r.k_range {
            match range.get_ref()[..] {
                [lo, hi] if 2 <= lo && lo <= hi && hi <= 100 => c.k_range = [lo as u32, hi as u32],
                _ => {
                    return Err(self.at(
                        range.span(),
                        "clustering.k_range must be [LO, HI] with 2 <= LO <= HI <= 100",
                    ));
                }
            }
        }
        if let Some(seed) = &r.seed {
            if *seed.get_ref() < 0 {
                return Err(self.at(seed.span(), "clustering.seed must not be negative"));
            }
            c.seed = *seed.get_ref() as u64;
        }
        if let Some(n) = &r.n_init {
            if !(1..=100).contains(n.get_ref()) {
                return Err(self.at(n.span(), "clustering.n_init must be 1..=100"));
            }
            c.n_init = *n.get_ref() as u32;
        }
        if let Some(m) = &r.min_share {
            if !(0.0..0.5).contains(m.get_ref()) {
                return Err(self.at(
                    m.span(),
                    "clustering.min_share must be at least 0 and below 0.5",
                ));
            }
            c.min_share = *m.get_ref();
        }
        if let Some(m) = &r.missing {
            c.missing = match m.get_ref().as_str() {
                "skip" => MissingPolicy::Skip,
                "zero" => MissingPolicy::Zero,
                other => {
                    return Err(self.at(
                        m.span(),
                        format!("clustering.missing: expected \"skip\" or \"zero\", got `{other}`"),
                    ));
                }
            };
        }
        if let Some(g) = &r.gamma {
            if !(g.get_ref().is_finite() && *g.get_ref() >= 0.0) {
                return Err(self.at(g.span(), "clustering.gamma must be a number >= 0"));
            }
            c.gamma = Some(*g.get_ref());
        }
        if let Some(n) = &r.minibatch_above {
            if *n.get_ref() < 1 {
                return Err(self.at(n.span(), "clustering.minibatch_above must be at least 1"));
            }
            c.minibatch_above = *n.get_ref() as usize;
        }
        c.order_by = r.order_by.as_ref().map(|o| o.get_ref().clone());
        let e = self.at(raw.span(), "");
        c.at = format!("{}:{}:{}", e.file, e.line, e.column);
        Ok(c)
    }

    fn features(&self, raw: &RawFeatures) -> Result<FeaturesConfig, ConfigError> {
        let mut f = FeaturesConfig::default();
        if let Some(w) = &raw.windows {
            if w.get_ref().is_empty() || w.get_ref().iter().any(|d| !(1..=36_500).contains(d)) {
                return Err(self.at(
                    w.span(),
                    "features.windows must list window lengths in days, each 1..=36500",
                ));
            }
            let mut windows: Vec<u32> = w.get_ref().iter().map(|d| *d as u32).collect();
            windows.sort_unstable();
            windows.dedup();
            f.windows = windows;
        }
        if let Some(u) = raw.time_unit {
            f.time_unit = u;
        }
        if let Some(names) = &raw.events {
            let list = names.get_ref();
            let mut seen = std::collections::BTreeSet::new();
            if list.is_empty() || list.len() > 64 {
                return Err(self.at(
                    names.span(),
                    "features.events must list 1 to 64 event names",
                ));
            }
            if list.iter().any(|n| n.trim().is_empty()) {
                return Err(self.at(
                    names.span(),
                    "features.events lists an empty name; events without a name are rejected as they are read",
                ));
            }
            if let Some(dup) = list.iter().find(|n| !seen.insert(n.as_str())) {
                return Err(self.at(names.span(), format!("features.events lists `{dup}` twice")));
            }
            f.events = Some(list.clone());
        }
        for (name, custom) in &raw.custom {
            let feature = self.custom_feature(name, custom)?;
            if let Some(why) = f.column_taken(&feature.name) {
                return Err(self.at(
                    name.span(),
                    format!(
                        "features.custom: `{}` {why}; choose another name",
                        feature.name
                    ),
                ));
            }
            f.custom.push(feature);
        }
        Ok(f)
    }

    fn custom_feature(
        &self,
        name: &Spanned<String>,
        raw: &Spanned<RawCustomEntry>,
    ) -> Result<CustomFeature, ConfigError> {
        if !is_identifier(name.get_ref()) || name.get_ref().chars().any(|c| c.is_ascii_uppercase())
        {
            return Err(self.at(
                name.span(),
                format!(
                    "features.custom: `{}` is not a valid feature name (lower-case letters, digits and `_`, starting with a letter)",
                    name.get_ref()
                ),
            ));
        }
        let entry = &raw.get_ref().0;
        let (over, description) = (
            entry.over.unwrap_or(CustomOver::Orders),
            entry.description.clone(),
        );
        let sql = &entry.sql;
        let span = if sql.span() == (0..0) {
            raw.span()
        } else {
            sql.span()
        };
        if sql.get_ref().trim().is_empty() {
            return Err(self.at(
                span.clone(),
                format!(
                    "features.custom.{}: the SQL expression is empty",
                    name.get_ref()
                ),
            ));
        }
        let e = self.at(span, "");
        Ok(CustomFeature {
            name: name.get_ref().clone(),
            over,
            sql: sql.get_ref().clone(),
            description,
            at: format!("{}:{}:{}", e.file, e.line, e.column),
        })
    }

    fn segments(
        &self,
        raw: &std::collections::BTreeMap<Spanned<String>, Spanned<RawSegment>>,
    ) -> Result<Vec<SegmentConfig>, ConfigError> {
        let mut out = Vec::new();
        for (name, seg) in raw {
            self.lower_identifier(name, "segments", "segment")?;
            let rule = &seg.get_ref().rule;
            if rule.get_ref().trim().is_empty() {
                return Err(self.at(
                    rule.span(),
                    format!("segments.{}.rule is empty", name.get_ref()),
                ));
            }
            let e = self.at(rule.span(), "");
            out.push(SegmentConfig {
                name: name.get_ref().clone(),
                rule: rule.get_ref().clone(),
                description: seg.get_ref().description.clone(),
                tags: seg.get_ref().tags.clone(),
                at: format!("{}:{}:{}", e.file, e.line, e.column),
            });
        }
        Ok(out)
    }

    fn groups(
        &self,
        raw: &std::collections::BTreeMap<Spanned<String>, Spanned<RawGroup>>,
        segments: &[SegmentConfig],
    ) -> Result<Vec<GroupConfig>, ConfigError> {
        let mut out = Vec::new();
        for (name, group) in raw {
            self.lower_identifier(name, "groups", "group")?;
            let n = name.get_ref();
            if ["customer_id", "segments", "cluster"].contains(&n.as_str())
                || segments.iter().any(|s| s.name == *n)
            {
                return Err(self.at(
                    name.span(),
                    format!("groups.{n}: the name is taken (by a segment or a column of assignments.parquet); choose another"),
                ));
            }
            let list = &group.get_ref().segments;
            if list.get_ref().is_empty() {
                return Err(self.at(list.span(), format!("groups.{n}.segments is empty")));
            }
            let mut members: Vec<String> = Vec::new();
            for m in list.get_ref() {
                if !segments.iter().any(|s| s.name == *m.get_ref()) {
                    return Err(self.at(
                        m.span(),
                        format!(
                            "groups.{n}: unknown segment `{}`{}",
                            m.get_ref(),
                            did_you_mean(m.get_ref(), segments.iter().map(|s| s.name.as_str()))
                        ),
                    ));
                }
                if members.contains(m.get_ref()) {
                    return Err(self.at(
                        m.span(),
                        format!("groups.{n} lists `{}` twice", m.get_ref()),
                    ));
                }
                members.push(m.get_ref().clone());
            }
            out.push(GroupConfig {
                name: n.clone(),
                segments: members,
                description: group.get_ref().description.clone(),
            });
        }
        Ok(out)
    }

    fn lower_identifier(
        &self,
        name: &Spanned<String>,
        table: &str,
        what: &str,
    ) -> Result<(), ConfigError> {
        let n = name.get_ref();
        if is_identifier(n) && !n.chars().any(|c| c.is_ascii_uppercase()) {
            return Ok(());
        }
        Err(self.at(
            name.span(),
            format!("{table}: `{n}` is not a valid {what} name (lower-case letters, digits and `_`, starting with a letter)"),
        ))
    }

    /// `[rfm]`: the bins, and each rule of the user's segment map on its own (a name, ranges
    /// within `1..=bins`). Whether the rules cover every combination of scores is the RFM
    /// model's to say; the command line asks it as soon as the config is read.
    fn rfm(&self, raw: &RawRfm) -> Result<RfmConfig, ConfigError> {
        let mut r = RfmConfig::default();
        if let Some(b) = &raw.bins {
            if !(2..=10).contains(b.get_ref()) {
                return Err(self.at(
                    b.span(),
                    format!("rfm.bins must be between 2 and 10, got {}", b.get_ref()),
                ));
            }
            r.bins = *b.get_ref() as u8;
        }
        if let Some(segments) = &raw.segments {
            let mut out = Vec::new();
            for (index, s) in segments.iter().enumerate() {
                let g = s.get_ref();
                if g.name.trim().is_empty() {
                    return Err(self.at(
                        s.span(),
                        format!("rfm segment rule {} has an empty name", index + 1),
                    ));
                }
                if g.name.trim().eq_ignore_ascii_case(NO_PURCHASE) {
                    return Err(self.at(
                        s.span(),
                        format!(
                            "rfm segment rule {}: `{NO_PURCHASE}` is the segment of customers without purchases; choose another name",
                            index + 1
                        ),
                    ));
                }
                let axes = [("r", g.r), ("f", g.f), ("m", g.m), ("fm", g.fm)];
                for (axis, range) in axes {
                    if let Some([lo, hi]) = range
                        && !(1 <= lo && lo <= hi && hi <= r.bins)
                    {
                        return Err(self.at(s.span(), format!(
                            "rfm segment `{}`: {axis} = [{lo}, {hi}] is not a range within 1..={} for {} bins",
                            g.name, r.bins, r.bins
                        )));
                    }
                }
                let e = self.at(s.span(), "");
                out.push(RfmSegmentConfig {
                    name: g.name.clone(),
                    r: g.r,
                    f: g.f,
                    m: g.m,
                    fm: g.fm,
                    at: format!("{}:{}:{}", e.file, e.line, e.column),
                });
            }
            r.segments = Some(out);
        }
        Ok(r)
    }

    fn time_zone(&self, tz: &Spanned<String>) -> Result<Tz, ConfigError> {
        tz.get_ref().parse::<Tz>().map_err(|_| {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
            self.at(
                tz.span(),
                format!(
                    "unknown time zone `{}`{}",
                    tz.get_ref(),
                    did_you_mean(tz.get_ref(), names)
                ),
            )
        })
    }

    fn date_value(&self, v: &Spanned<toml::Value>, what: &str) -> Result<i32, ConfigError> {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => {
                return Err(self.at(
                    v.span(),
                    format!(
                        "{what} must be a date like 2025-01-01, got {}",
                        other.type_str()
                    ),
                ));
            }
        };
        value::parse_date(&text, None).map_err(|_| {
            self.at(
                v.span(),
                format!("{what} must be a date like 2025-01-01, got `{text}`"),
            )
        })
    }

    fn one_char(&self, s: &Spanned<String>, what: &str) -> Result<char, ConfigError> {
        let v = s.get_ref();
        let c = match v.as_str() {
            "\\t" | "tab" => '\t',
            _ => {
                let mut chars = v.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii() => c,
                    _ => {
                        return Err(self.at(
                            s.span(),
                            format!("{what} must be one ASCII character, got `{v}`"),
                        ));
                    }
                }
            }
        };
        if c == '\n' || c == '\r' {
            return Err(self.at(s.span(), format!("{what} cannot be a line break")));
        }
        Ok(c)
    }

    fn format(&self, f: &Spanned<String>) -> Result<String, ConfigError> {
        use chrono::format::{Item, StrftimeItems};
        if StrftimeItems::new(f.get_ref()).any(|i| matches!(i, Item::Error)) {
            return Err(self.at(
                f.span(),
                format!("`{}` is not a valid strftime format", f.get_ref()),
            ));
        }
        Ok(f.get_ref().clone())
    }

    fn source(
        &self,
        kind: SourceKind,
        src: RawSource,
        d: &Defaults,
    ) -> Result<SourceConfig, ConfigError> {
        if src.path.get_ref().trim().is_empty() {
            return Err(self.at(src.path.span(), format!("sources.{kind}.path is empty")));
        }
        let format = match src.format {
            Some(f) => f,
            None => format_from_path(src.path.get_ref()).ok_or_else(|| {
                self.at(src.path.span(), format!(
                    "cannot tell the format of `{}` from its extension; set format = \"csv\", \"parquet\" or \"ndjson\"",
                    src.path.get_ref()
                ))
            })?,
        };
        let mut csv = CsvOptions::default();
        if src.path.get_ref().ends_with(".tsv") {
            csv.delimiter = '\t';
        }
        if let Some(c) = &src.csv {
            if let Some(x) = &c.delimiter {
                csv.delimiter = self.one_char(x, "delimiter")?;
            }
            if let Some(x) = &c.quote {
                csv.quote = self.one_char(x, "quote")?;
            }
            csv.header = c.header.unwrap_or(true);
            csv.encoding = c.encoding.unwrap_or(Encoding::Utf8);
        }
        let time_zone = match &src.time_zone {
            Some(tz) => self.time_zone(tz)?,
            None => d.time_zone,
        };
        let mut money = MoneyFormat {
            decimals: d.money_decimals,
            ..MoneyFormat::default()
        };
        if let Some(s) = &src.decimal_separator {
            money.decimal_separator = self.one_char(s, "decimal_separator")? as u8;
        }
        if let Some(s) = &src.thousands_separator {
            money.thousands_separator = Some(self.one_char(s, "thousands_separator")? as u8);
        }
        let date_format = src
            .date_format
            .as_ref()
            .map(|f| self.format(f))
            .transpose()?;
        let ts_format = src
            .timestamp_format
            .as_ref()
            .map(|f| self.format(f))
            .transpose()?;
        let formats = SourceFormats {
            date: date_format,
            timestamp: ts_format,
            tz: time_zone,
            money,
        };

        let canonical = kind.fields();
        for key in src.columns.keys() {
            if !canonical.iter().any(|c| c.name == key.get_ref()) {
                let names = canonical.iter().map(|c| c.name);
                return Err(self.at(key.span(), format!(
                    "unknown field `{}` in [sources.{kind}.columns]{}; extra columns go under [sources.{kind}.attributes]",
                    key.get_ref(),
                    did_you_mean(key.get_ref(), names)
                )));
            }
        }
        let mut fields = Vec::new();
        for c in canonical {
            let entry = src.columns.iter().find(|(k, _)| k.get_ref() == c.name);
            let mut f =
                match entry {
                    Some((_, spec)) => {
                        let span = spec.span();
                        let spec = &spec.get_ref().0;
                        if let Some(t) = &spec.ty {
                            return Err(self.at(t.span(), format!(
                            "`{}` is a canonical field of type {}; its type cannot be changed",
                            c.name, c.ty
                        )));
                        }
                        self.field(c.name, c.ty, spec, span, false, &formats)?
                    }
                    None => FieldConfig {
                        name: c.name.to_string(),
                        column: ColumnRef::Name(c.name.to_string()),
                        ty: c.ty,
                        required: c.required,
                        implicit: true,
                        role: None,
                        format: None,
                        values: None,
                        separator: None,
                        min: None,
                        max: None,
                        default: None,
                    },
                };
            f.role = Some(c.role);
            f.required = f.required || c.required;
            f.default = c.default.map(str::to_string);
            if matches!(f.ty, FieldType::Date | FieldType::Timestamp) {
                self.default_date_bounds(&mut f);
            }
            if f.ty == FieldType::Timestamp && f.format.is_none() {
                f.format = formats.timestamp.clone();
            }
            fields.push(f);
        }
        // In the order the file lists them, which is the order of the output columns.
        let mut attributes: Vec<_> = src.attributes.iter().collect();
        attributes.sort_by_key(|(name, _)| name.span().start);
        let canonical = fields.len();
        for (name, spec) in attributes {
            let n = name.get_ref();
            // In any case: SQL engines fold the case of names (DuckDB takes `"Age"` for `age`).
            if let Some(k) = fields.iter().position(|f| f.name.eq_ignore_ascii_case(n)) {
                let other = &fields[k].name;
                let what = match k < canonical {
                    true => format!("has the name of a canonical field of {kind} (`{other}`)"),
                    false => format!("differs from the attribute `{other}` only in case"),
                };
                return Err(self.at(name.span(), format!("attribute `{n}` {what}")));
            }
            if !is_identifier(n) {
                return Err(self.at(name.span(), format!(
                    "attribute name `{n}` must start with a letter and hold only letters, digits and `_`"
                )));
            }
            if let Some(taken) = added_columns(kind)
                .iter()
                .find(|c| c.eq_ignore_ascii_case(n))
            {
                return Err(self.at(
                    name.span(),
                    format!(
                        "attribute `{n}` has the name of a column Tessera adds to {kind} (`{taken}`); choose another name"
                    ),
                ));
            }
            let t = spec.get_ref().0.ty.as_ref().ok_or_else(|| {
                self.at(
                    name.span(),
                    format!(
                        "attribute `{n}` needs a type: one of {}",
                        FieldType::USER_TYPES.join(", ")
                    ),
                )
            })?;
            let ty = parse_user_type(t.get_ref()).ok_or_else(|| {
                self.at(
                    t.span(),
                    format!(
                        "unknown type `{}`{}",
                        t.get_ref(),
                        did_you_mean(t.get_ref(), FieldType::USER_TYPES.iter().copied())
                    ),
                )
            })?;
            let mut f = self.field(n, ty, &spec.get_ref().0, spec.span(), true, &formats)?;
            if matches!(ty, FieldType::Date | FieldType::Timestamp) {
                self.default_date_bounds(&mut f);
            }
            fields.push(f);
        }
        if src.unknown_customers.is_some() && kind == SourceKind::Customers {
            return Err(self.at(
                src.path.span(),
                "unknown_customers applies to orders, events and feedback, not customers",
            ));
        }
        Ok(SourceConfig {
            kind,
            path: src.path.into_inner(),
            format,
            csv,
            fields,
            time_zone,
            money,
            on_conflict: src.on_conflict.unwrap_or(d.on_conflict),
            unknown_customers: src.unknown_customers.unwrap_or(d.unknown_customers),
        })
    }

    fn default_date_bounds(&self, f: &mut FieldConfig) {
        let min = value::parse_date(DEFAULT_MIN_DATE, None).expect("constant date");
        let max = value::parse_date(DEFAULT_MAX_DATE, None).expect("constant date") + 1;
        let (lo, hi) = match f.ty {
            FieldType::Date => (Bound::Days(min), Bound::Days(max - 1)),
            _ => (
                Bound::Micros(i64::from(min) * 86_400_000_000),
                Bound::Micros(i64::from(max) * 86_400_000_000 - 1),
            ),
        };
        f.min.get_or_insert(lo);
        f.max.get_or_insert(hi);
    }

    fn field(
        &self,
        name: &str,
        ty: FieldType,
        spec: &RawFieldTable,
        span: std::ops::Range<usize>,
        explicit_type: bool,
        formats: &SourceFormats,
    ) -> Result<FieldConfig, ConfigError> {
        let column = match &spec.column {
            None => ColumnRef::Name(name.to_string()),
            Some(c) => match c.get_ref() {
                RawColumn::Name(n) if n.is_empty() => {
                    return Err(self.at(span, format!("column name for `{name}` is empty")));
                }
                RawColumn::Name(n) => ColumnRef::Name(n.clone()),
                RawColumn::Index(i) if *i >= 1 => ColumnRef::Index(*i as usize - 1),
                RawColumn::Index(i) => {
                    return Err(self.at(
                        span,
                        format!("column numbers start at 1, got {i} for `{name}`"),
                    ));
                }
            },
        };
        let format = match (&spec.format, ty) {
            (Some(f), FieldType::Date | FieldType::Timestamp) => Some(self.format(f)?),
            (Some(f), _) => {
                return Err(self.at(
                    f.span(),
                    format!("`format` applies to date and timestamp fields; `{name}` is {ty}"),
                ));
            }
            (None, FieldType::Date) => formats.date.clone(),
            (None, FieldType::Timestamp) => formats.timestamp.clone(),
            (None, _) => None,
        };
        if spec.values.is_some() && !matches!(ty, FieldType::String | FieldType::List) {
            return Err(self.at(
                span,
                format!("`values` lists the allowed strings; `{name}` is {ty}"),
            ));
        }
        let separator = match (&spec.separator, ty) {
            (Some(s), FieldType::List) if s.get_ref().trim().is_empty() => {
                return Err(self.at(
                    s.span(),
                    format!("`separator` of `{name}` is empty or blank: it would split nothing"),
                ));
            }
            (Some(s), FieldType::List) => Some(s.get_ref().clone()),
            (Some(s), _) => {
                return Err(self.at(
                    s.span(),
                    format!("`separator` splits the text of a list field; `{name}` is {ty}"),
                ));
            }
            (None, FieldType::List) => Some(DEFAULT_LIST_SEPARATOR.to_string()),
            (None, _) => None,
        };
        let mut values = spec.values.clone();
        if let Some(v) = &mut values {
            if v.is_empty() {
                return Err(self.at(
                    span,
                    format!("`values` for `{name}` is empty: no row could pass"),
                ));
            }
            v.sort();
            v.dedup();
        }
        let mut clock = LocalTime::new(formats.tz);
        let mut bound =
            |b: &Option<Spanned<toml::Value>>, which: &str| -> Result<Option<Bound>, ConfigError> {
                let Some(b) = b else { return Ok(None) };
                if !ty.is_ordered() {
                    return Err(self.at(
                        b.span(),
                        format!("`{which}` needs an ordered type; `{name}` is {ty}"),
                    ));
                }
                let v = b.get_ref();
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Datetime(d) => d.to_string(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    other => {
                        return Err(self.at(
                            b.span(),
                            format!(
                                "`{which}` of `{name}` must be a number or date, got {}",
                                other.type_str()
                            ),
                        ));
                    }
                };
                let parsed = match ty {
                    FieldType::Int => value::parse_int(&text).map(Bound::Int),
                    FieldType::Float => value::parse_float(&text).map(Bound::Float),
                    FieldType::Money => value::parse_money(
                        &text,
                        MoneyFormat {
                            decimals: formats.money.decimals,
                            ..MoneyFormat::default()
                        },
                    )
                    .map(Bound::Int),
                    FieldType::Date => value::parse_date(&text, None).map(Bound::Days),
                    _ => value::parse_timestamp(&text, None, &mut clock).map(Bound::Micros),
                };
                parsed
                    .map(Some)
                    .map_err(|e| self.at(b.span(), format!("`{which}` of `{name}`: {e}")))
            };
        let min = bound(&spec.min, "min")?;
        let max = bound(&spec.max, "max")?;
        Ok(FieldConfig {
            name: name.to_string(),
            column,
            ty,
            required: spec.required.unwrap_or(false),
            implicit: spec.column.is_none() && !explicit_type,
            role: None,
            format,
            values,
            separator,
            min,
            max,
            default: None,
        })
    }
}

struct Defaults {
    time_zone: Tz,
    money_decimals: u8,
    on_conflict: ConflictPolicy,
    unknown_customers: UnknownCustomerPolicy,
}

struct SourceFormats {
    date: Option<String>,
    timestamp: Option<String>,
    tz: Tz,
    money: MoneyFormat,
}

fn parse_user_type(s: &str) -> Option<FieldType> {
    Some(match s {
        "string" => FieldType::String,
        "int" => FieldType::Int,
        "float" => FieldType::Float,
        "bool" => FieldType::Bool,
        "date" => FieldType::Date,
        "timestamp" => FieldType::Timestamp,
        "money" => FieldType::Money,
        "list" => FieldType::List,
        _ => return None,
    })
}

/// Columns that the rows of a source get beside their fields: the refund flag of clean orders,
/// and the local `day` and its `age_days` that custom features read in orders and events.
fn added_columns(kind: SourceKind) -> &'static [&'static str] {
    match kind {
        SourceKind::Orders => &["is_refund", "day", "age_days"],
        SourceKind::Events => &["day", "age_days"],
        _ => &[],
    }
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic())
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The format implied by a file name, if its extension is a known one.
pub fn format_from_path(path: &str) -> Option<Format> {
    let ext = path.rsplit('.').next()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "tsv" | "txt" => Some(Format::Csv),
        "parquet" | "pq" => Some(Format::Parquet),
        "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
        _ => None,
    }
}

/// `"; did you mean `x`?"` for the closest candidate within a small edit distance, or `""`.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let w = word.to_lowercase();
    let best = candidates
        .into_iter()
        .map(|c| {
            let lc = c.to_lowercase();
            // A candidate that starts the word (`int` for `integer`) or that the word starts counts as close.
            let prefix =
                lc.len() >= 3 && w.len() >= 3 && (w.starts_with(&lc) || lc.starts_with(&w));
            let d = if prefix {
                1
            } else {
                strsim::damerau_levenshtein(&w, &lc)
            };
            (d, c)
        })
        .min_by_key(|(d, _)| *d);
    match best {
        Some((d, c)) if d <= (word.chars().count() / 3).max(2) => format!("; did you mean `{c}`?"),
        _ => String::new(),
    }
}

/// Adds a suggestion to serde's "unknown field/variant `x`, expected one of `a`, `b`" messages.
fn add_did_you_mean(message: &str) -> String {
    if !(message.starts_with("unknown field") || message.starts_with("unknown variant")) {
        return message.to_string();
    }
    let quoted: Vec<&str> = message.split('`').skip(1).step_by(2).collect();
    match quoted.split_first() {
        Some((word, rest)) => {
            let hint = did_you_mean(word, rest.iter().copied());
            format!("{message}{hint}")
        }
        None => message.to_string(),
    }
}
