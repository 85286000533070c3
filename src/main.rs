//! Entry point: parse arguments, start logging, dispatch, print the error once, exit.

use std::process::ExitCode;

use sangja::cli::dispatch;
use sangja::logging::{self, Format};

#[global_allocator]
static ALLOCATOR: sangja::sys::alloc::Allocator = sangja::sys::alloc::new();

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    sangja::cli::protect_early(&args);
    let cli = sangja::cli::parse(args);
    let format = match cli.global.log_format {
        sangja::cli::LogFormat::Json => Format::Json,
        sangja::cli::LogFormat::Text => Format::Text,
    };
    if let Err(e) = logging::init(cli.global.log.as_deref(), format, cli.global.debug) {
        eprintln!("sangja: {e:#}");
        return ExitCode::from(1);
    }
    match dispatch(cli) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(e) => {
            let msg = format!("{e:#}");
            logging::error(&msg);
            eprintln!("sangja: {msg}");
            match e.downcast_ref::<sangja::error::Error>() {
                Some(sangja::error::Error::ExecFailed { exit_code, .. }) => {
                    ExitCode::from(*exit_code)
                }
                _ => ExitCode::from(1),
            }
        }
    }
}
