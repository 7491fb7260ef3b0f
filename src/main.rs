//! forge-top: the read-only live inspector for Forge rings.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = forge_top::cli::Cli::parse_args();
    // Colour and color-eyre's panic report for a person at a terminal;
    // plain text for scripts and for NO_COLOR.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    if colour {
        let _ = color_eyre::install();
    }
    match forge_top::run::main(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if cli.json_errors() {
                println!("{}", failure.json());
            }
            failure.report(colour);
            ExitCode::FAILURE
        }
    }
}
