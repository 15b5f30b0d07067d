use crate::Failure;
use crate::cli::{CheckArgs, Cli};
use crate::output::{load_config, schema_table};
use std::collections::BTreeMap;

/// Checks the config, then every file's header against it, and prints the resolved schema.
pub fn run(args: &CheckArgs, cli: &Cli) -> Result<(), Failure> {
    let (config, _) = load_config(&args.config)?;
    crate::cmd_run::check_custom_features(&config)?;
    crate::cmd_run::check_rule_syntax(&config)?;
    let mut files = BTreeMap::new();
    for source in &config.sources {
        let found =
            tessera_ingest::inspect(&config, source).map_err(|e| Failure::Input(e.into()))?;
        files.insert(source.kind, found);
    }
    if args.json {
        let doc = serde_json::json!({ "config": config, "files": files, "ok": true });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else if !cli.quiet {
        print!("{}", schema_table(&config, &files));
        println!("{}: ok", args.config.display());
    }
    Ok(())
}
