//! `tessera`: the command line. Each subcommand parses its arguments, calls the library crates and
//! prints what they return; the work itself lives in the crates.

mod cli;
mod cluster_stage;
mod clv_stage;
mod cmd_check;
mod cmd_cluster;
mod cmd_clv;
mod cmd_demo;
mod cmd_export;
mod cmd_history;
mod cmd_run;
mod cmd_segments;
mod history_stage;
mod output;
mod profile_stage;
mod progress;
mod report_stage;
mod segment_stage;
mod stages;

use clap::Parser;
use std::process::ExitCode;

/// Exit codes: 0 ok, 1 failure, 2 bad input or usage.
pub enum Failure {
    /// The user's input or config is wrong.
    Input(anyhow::Error),
    /// Anything else.
    Other(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Other(e.into())
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Demo(args) => cmd_demo::run(args, &cli),
        cli::Command::Run(args) => cmd_run::run(args, &cli),
        cli::Command::Features(args) => cmd_run::features(args, &cli),
        cli::Command::Check(args) => cmd_check::run(args, &cli),
        cli::Command::Segments(args) => cmd_segments::segments(args, &cli),
        cli::Command::Explain(args) => cmd_segments::explain(args, &cli),
        cli::Command::Sql(args) => cmd_segments::sql(args, &cli),
        cli::Command::Cluster(args) => cmd_cluster::cluster(args, &cli),
        cli::Command::Clv(args) => cmd_clv::clv(args, &cli),
        cli::Command::Export(args) => cmd_export::export(args, &cli),
        cli::Command::History(args) => cmd_history::history(args, &cli),
        cli::Command::Diff(args) => cmd_history::diff(args, &cli),
        cli::Command::Members(args) => cmd_history::members(args, &cli),
        cli::Command::Forget(args) => cmd_history::forget(args, &cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
