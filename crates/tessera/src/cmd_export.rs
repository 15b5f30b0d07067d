//! `tessera export`: a segment's audience for one channel, consent-aware, with a holdout flag.

use crate::Failure;
use crate::cli::{Cli, ExportArgs};
use crate::cmd_segments::{prepared, segment_index};
use crate::segment_stage::Evaluated;
use anyhow::anyhow;
use arrow_array::BooleanArray;
use arrow_array::cast::AsArray;
use std::path::{Path, PathBuf};
use tessera_core::Config;
use tessera_core::config::{ExportConfig, ExportFormat};
use tessera_rules::Type;

/// Writes one export of an evaluated run to `out`.
pub fn write_export(
    config: &Config,
    export: &ExportConfig,
    ev: &Evaluated,
    out: &Path,
    suppressed: Option<&tessera_core::suppress::Suppression>,
) -> Result<tessera_export::Summary, Failure> {
    let table = &ev.run.customers;
    let segment = segment_index(&ev.run.set, &export.segment)?;
    let consent = config.consent_for(&export.channel).ok_or_else(|| {
        Failure::Input(anyhow!(
            "`{}` is not a channel of [consent]{}",
            export.channel,
            tessera_core::config::did_you_mean(
                &export.channel,
                config.consent.iter().map(|c| c.channel.as_str())
            )
        ))
    })?;
    let consent_column = table.column(&consent.attribute).ok_or_else(|| {
        Failure::Other(anyhow!(
            "the customer row has no consent column `{}`",
            consent.attribute
        ))
    })?;
    let consent_flags: &BooleanArray = consent_column.as_boolean_opt().ok_or_else(|| {
        Failure::Input(anyhow!(
            "consent.{}: `{}` is not a bool column",
            export.channel,
            consent.attribute
        ))
    })?;
    let mut columns = Vec::with_capacity(export.fields.len());
    for (k, name) in export.fields.iter().enumerate() {
        if name == "holdout" {
            return Err(Failure::Input(anyhow!(
                "{}exports.{}.fields: `holdout` is always written; leave it out of the list",
                at(export, k),
                export.name
            )));
        }
        // A group's column: the customer's first matching segment of the group (a tier).
        if let Some(g) = ev.run.set.groups.iter().position(|g| g.def.name == *name) {
            let set = &ev.run.set;
            let which = crate::segment_stage::first_match(set, g, &ev.members);
            let names: arrow_array::StringArray = which
                .iter()
                .map(|w| w.map(|s| set.segments[s as usize].def.name.as_str()))
                .collect();
            columns.push(tessera_export::Column {
                name: name.clone(),
                array: std::sync::Arc::new(names),
                money: false,
            });
            continue;
        }
        let Some(i) = table.schema.index(name) else {
            return Err(Failure::Input(anyhow!(
                "{}exports.{}.fields: unknown field `{name}`{}",
                at(export, k),
                export.name,
                tessera_core::config::did_you_mean(
                    name,
                    table
                        .schema
                        .fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .chain(ev.run.set.groups.iter().map(|g| g.def.name.as_str()))
                )
            )));
        };
        columns.push(tessera_export::Column {
            name: name.clone(),
            array: table.columns[i].clone(),
            money: table.schema.fields[i].ty == Type::Money,
        });
    }
    let ids = table
        .column("customer_id")
        .expect("the customer row has ids");
    let summary = tessera_export::write(tessera_export::Request {
        name: &export.name,
        ids: ids.as_string::<i32>(),
        members: &ev.members[segment],
        consent: consent_flags,
        columns,
        holdout: export.holdout,
        format: export.format,
        money_decimals: config.money_decimals,
        out,
        suppressed,
    })
    .map_err(|e| match e {
        tessera_export::ExportError::Unsupported { .. }
        | tessera_export::ExportError::Holdout(_) => Failure::Input(e.into()),
        e => Failure::Other(e.into()),
    })?;
    Ok(summary)
}

/// `file:line:col: ` of the export's k-th field, when the config named it.
fn at(export: &ExportConfig, k: usize) -> String {
    match export.fields_at.get(k) {
        Some(a) if !a.is_empty() => format!("{a}: "),
        _ => String::new(),
    }
}

/// The export the arguments describe: a configured one, adjusted by the flags given.
fn resolve(config: &Config, args: &ExportArgs) -> Result<ExportConfig, Failure> {
    let mut export = match (&args.export, &args.segment) {
        (Some(name), _) => config.export(name).cloned().ok_or_else(|| {
            Failure::Input(anyhow!(
                "no [exports.{name}] in {}{}",
                config.file.display(),
                tessera_core::config::did_you_mean(
                    name,
                    config.exports.iter().map(|e| e.name.as_str())
                )
            ))
        })?,
        (None, Some(segment)) => {
            let configured: Vec<&ExportConfig> = config
                .exports
                .iter()
                .filter(|e| {
                    e.segment == *segment && args.channel.as_ref().is_none_or(|c| *c == e.channel)
                })
                .collect();
            match (configured.as_slice(), &args.channel) {
                ([one], _) => (*one).clone(),
                (_, Some(channel)) => ExportConfig {
                    name: segment.clone(),
                    segment: segment.clone(),
                    channel: channel.clone(),
                    fields: vec!["customer_id".into()],
                    fields_at: vec![String::new()],
                    holdout: 0.0,
                    format: ExportFormat::Csv,
                    description: None,
                },
                ([], None) => {
                    return Err(Failure::Input(anyhow!(
                        "segment `{segment}` has no [exports] entry: name the channel whose consent the audience needs with --channel{}",
                        channels(config)
                    )));
                }
                (many, None) => {
                    return Err(Failure::Input(anyhow!(
                        "segment `{segment}` has {} exports ({}): choose one with --export or --channel",
                        many.len(),
                        many.iter()
                            .map(|e| e.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
        (None, None) => {
            return Err(Failure::Input(anyhow!(
                "name an export (--export NAME) or a segment (--segment S)"
            )));
        }
    };
    if let Some(c) = &args.channel {
        export.channel = c.clone();
    }
    if let Some(f) = &args.fields {
        export.fields = f
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        export.fields_at = vec![String::new(); export.fields.len()];
        if export.fields.is_empty() {
            return Err(Failure::Input(anyhow!("--fields names no field")));
        }
    }
    if let Some(h) = args.holdout {
        if !(0.0..1.0).contains(&h) {
            return Err(Failure::Input(anyhow!(
                "--holdout must be a share in [0, 1), got {h}"
            )));
        }
        export.holdout = h;
    }
    if let Some(f) = args.format {
        export.format = f.into();
    }
    if config.consent_for(&export.channel).is_none() {
        return Err(Failure::Input(anyhow!(
            "`{}` is not a channel of [consent]{}",
            export.channel,
            channels(config)
        )));
    }
    Ok(export)
}

fn channels(config: &Config) -> String {
    if config.consent.is_empty() {
        " (the config has no [consent] table: add one naming each channel's bool attribute, e.g. email = \"email_opt_in\")".into()
    } else {
        format!(
            " (channels: {})",
            config
                .consent
                .iter()
                .map(|c| c.channel.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

pub fn export(args: &ExportArgs, cli: &Cli) -> Result<(), Failure> {
    let (config, _) = crate::output::load_config(&args.tables.config)?;
    let export = resolve(&config, args)?;
    let out: PathBuf = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.{}", export.name, export.format.key())));
    let t = &args.tables;
    let (_dir, prepared) = prepared(&t.config, t.run.as_deref(), t.as_of.as_deref())?;
    let ev = prepared.evaluate()?;
    // Customers forgotten since the run was made are left out all the same.
    let suppressed = crate::history_stage::suppression(&config)?;
    let s = write_export(&config, &export, &ev, &out, suppressed.as_ref())?;
    if t.json {
        let doc = summary_json(&export, &s, &out);
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if !cli.quiet {
        println!(
            "{}: {} of {} members of `{}` written to {} ({} without {} consent left out{}; {} flagged holdout)",
            export.name,
            s.exported,
            s.members,
            export.segment,
            out.display(),
            s.without_consent,
            export.channel,
            if s.suppressed > 0 {
                format!(", {} forgotten left out", s.suppressed)
            } else {
                String::new()
            },
            s.holdout
        );
    }
    Ok(())
}

/// An export's summary as `run.json` and `--json` give it.
pub fn summary_json(
    export: &ExportConfig,
    s: &tessera_export::Summary,
    out: &Path,
) -> serde_json::Value {
    serde_json::json!({
        "export": export.name,
        "segment": export.segment,
        "channel": export.channel,
        "format": export.format.key(),
        "file": out.display().to_string(),
        "fields": s.fields,
        "members": s.members,
        "without_consent": s.without_consent,
        "suppressed": s.suppressed,
        "exported": s.exported,
        "holdout_share": export.holdout,
        "holdout": s.holdout,
    })
}
