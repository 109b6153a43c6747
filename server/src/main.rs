//! `switchyard`: one binary for the console, the API and the CLI.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = server::cli::Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::cli::run(cli))
}
