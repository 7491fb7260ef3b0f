//! forge-top: the read-only live inspector for Forge rings.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> color_eyre::Result<()> {
    color_eyre::install()?;
    forge_top::run::main(forge_top::cli::Cli::parse())
}
