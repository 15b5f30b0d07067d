use crate::Failure;
use crate::cli::{CheckArgs, Cli};
use crate::output::{load_config, schema_table};

pub fn run(args: &CheckArgs, cli: &Cli) -> Result<(), Failure> {
    let (config, _) = load_config(&args.config)?;
    let mut files = serde_json::Map::new();
    for source in &config.sources {
        let found =
            tessera_ingest::source_files(&config, source).map_err(|e| Failure::Input(e.into()))?;
        files.insert(
            source.kind.name().into(),
            found.into_iter().map(|(_, n)| n).collect(),
        );
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
