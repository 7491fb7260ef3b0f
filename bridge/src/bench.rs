//! placeholder
use color_eyre::eyre::Result;
use forge_demo::exit::Exit;
use forge_demo::signals::Control;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

pub fn run(_a: &BenchArgs, _c: Control) -> Result<Exit> {
    Ok(Exit::Ok)
}
