use crate::Failure;
use crate::cli::{Cli, DemoArgs};
use crate::cmd_run::{RunRequest, execute};
use crate::output::run_table;
use crate::progress::Bars;
use anyhow::Context;
use tessera_demo::{DemoOptions, audit};

pub fn run(args: &DemoArgs, cli: &Cli) -> Result<(), Failure> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let opts = DemoOptions {
        customers: args.customers,
        seed: args.seed,
        dirty: args.dirty,
    };
    let bar = Bars::new(cli.quiet).bar("demo", args.customers as u64, "customers");
    let made = tessera_demo::generate(&args.out, &opts, &|n| bar.inc(n)).map_err(|e| match e {
        tessera_demo::DemoError::InvalidOption(_) => Failure::Input(e.into()),
        other => Failure::Other(other.into()),
    })?;
    bar.finish_and_clear();
    let mut doc = serde_json::json!({
        "dir": args.out,
        "customers": made.customers, "orders": made.orders, "events": made.events,
        "feedback": made.feedback, "defects": made.defects,
    });
    if !cli.quiet && !args.json {
        println!(
            "wrote {} customers, {} orders, {} events, {} feedback rows and {} defects to {}",
            made.customers,
            made.orders,
            made.events,
            made.feedback,
            made.defects,
            args.out.display()
        );
    }
    if args.no_run {
        return print_json(args, &doc);
    }
    let out = args.out.join("out");
    let req = RunRequest {
        quiet: cli.quiet,
        ..RunRequest::default()
    };
    let summary = execute(&args.out.join("tessera.toml"), &out, &req)?;
    doc["run"] = serde_json::to_value(&summary)?;
    if !cli.quiet && !args.json {
        print!("{}", run_table(&summary, &out));
    }
    if args.dirty > 0.0 {
        let report = audit::audit(&args.out, &out)?;
        if !cli.quiet && !args.json {
            println!("{report}");
        }
        let complete = report.missing.is_empty();
        doc["defect_audit"] = serde_json::to_value(&report)?;
        if !complete {
            print_json(args, &doc)?;
            return Err(Failure::Other(anyhow::anyhow!(
                "{} injected defects were not reported",
                report.missing.len()
            )));
        }
    }
    print_json(args, &doc)
}

fn print_json(args: &DemoArgs, doc: &serde_json::Value) -> Result<(), Failure> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(doc)?);
    }
    Ok(())
}
