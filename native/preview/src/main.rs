//! `msm-preview` (run as `scripts/msm preview --config FILE`): what a MongooseIM node running
//! a configuration would send, sending nothing. Exit status 0 on success, 1 when the file
//! cannot be read or parsed (the message names the line or the key) or describes a node too
//! large for the engine's input limits (its report would fail), 2 for a usage error,
//! and 70 (EX_SOFTWARE) should the engine refuse what this program made of a file (a defect).
//! Warnings (what MongooseIM would not know) go to standard error.

use std::io::Write;
use std::process::ExitCode;

use mongoose_system_metrics_preview::cli::{self, Command, Format};
use mongoose_system_metrics_preview::preview::{preview_file, PreviewError};
use mongoose_system_metrics_preview::{node_config, output};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("msm preview: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let Command::Preview {
        config,
        release,
        format,
    } = command
    else {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    };
    let file = config.display().to_string();
    let preview = match preview_file(&config, &release) {
        Ok(p) => p,
        Err(e @ (PreviewError::Config(_) | PreviewError::TooLarge(_))) => {
            eprintln!("msm preview: {file}: {e}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("msm preview: {file}: {e}");
            return ExitCode::from(70);
        }
    };
    for warning in &preview.config.warnings {
        eprintln!("msm preview: warning: {file}: {warning}");
    }
    let text = match format {
        Format::Text => output::text(&preview, &file),
        Format::Json => output::json(&preview),
        Format::NodeConfig => node_config::json(&preview),
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(text.as_bytes());
    ExitCode::SUCCESS
}
