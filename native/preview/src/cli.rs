//! The command line: `msm-preview --config FILE [--mongooseim-version V] [--json |
//! --node-config]`.

use std::path::PathBuf;

use crate::release::Release;

/// How the preview is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For a person.
    Text,
    /// `{"events", "requests", "runtime_only"}`.
    Json,
    /// The node configuration the preview read, for the demo's stand-in node.
    NodeConfig,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the usage.
    Help,
    /// Preview a file.
    Preview {
        /// The configuration file.
        config: PathBuf,
        /// The release previewed.
        release: Release,
        /// How to print it.
        format: Format,
    },
}

/// A command line that cannot be followed (exit status 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The usage text.
pub const USAGE: &str = "\
usage: msm preview --config FILE [--mongooseim-version V] [--json]

Prints what a MongooseIM node running the configuration FILE would send as anonymous system
metrics, sending nothing: the events, what depends on the running node, and the exact
requests of the configured tracking id (api_secret masked).

  --config FILE               a MongooseIM TOML configuration (mongooseim.toml)
  --mongooseim-version V      the MongooseIM release the node runs (default: the latest
                              supported, 6.8.0); its rules decide what is sent
  --json                      print {\"events\", \"requests\", \"runtime_only\", ...} as
                              JSON, with why there may be no request (reporting,
                              off_reason, configured and refused tracking ids)
  --node-config               print the node configuration read from FILE, in the shape
                              MongooseIM holds it (JSON, for `make demo')

The file is read for what the report depends on; only the service's own section is checked
as MongooseIM checks it, so MongooseIM may still refuse a file previewed here.

Exit status: 0 previewed, 1 the file cannot be read or parsed, 2 usage error.
";

/// Reads the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, UsageError> {
    let mut config = None;
    let mut version = None;
    let mut format = None;
    let mut args = args.into_iter();
    // `flag` chose `f`.
    let set_format = |f: Format, flag: &str, format: &mut Option<Format>| match format {
        Some(given) if *given == f => Err(UsageError(format!("{flag} given twice"))),
        Some(_) => Err(UsageError(
            "--json and --node-config exclude each other".into(),
        )),
        None => {
            *format = Some(f);
            Ok(())
        }
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--config" if config.is_none() => config = Some(PathBuf::from(value("--config")?)),
            "--mongooseim-version" if version.is_none() => {
                version = Some(value("--mongooseim-version")?)
            }
            "--json" if inline.is_none() => set_format(Format::Json, &flag, &mut format)?,
            "--node-config" if inline.is_none() => {
                set_format(Format::NodeConfig, &flag, &mut format)?
            }
            "--config" | "--mongooseim-version" => {
                return Err(UsageError(format!("{flag} given twice")))
            }
            _ => return Err(UsageError(format!("unknown argument {arg:?}"))),
        }
    }
    let config = config.ok_or_else(|| UsageError("--config FILE is required".into()))?;
    let release = match version {
        Some(v) => Release::parse(&v).map_err(|e| UsageError(e.to_string()))?,
        None => Release::latest(),
    };
    Ok(Command::Preview {
        config,
        release,
        format: format.unwrap_or(Format::Text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags() {
        let c = parse(args(&["--config", "m.toml", "--json"])).unwrap();
        assert_eq!(
            c,
            Command::Preview {
                config: "m.toml".into(),
                release: Release::latest(),
                format: Format::Json
            }
        );
        let c = parse(args(&["--mongooseim-version=6.3.3", "--config=m.toml"])).unwrap();
        assert!(
            matches!(c, Command::Preview { format: Format::Text, ref release, .. }
                         if release.version == "6.3.3")
        );
        assert_eq!(parse(args(&["--help"])).unwrap(), Command::Help);
    }

    #[test]
    fn repeated_and_conflicting_flags_are_named() {
        let message = |a: &[&str]| parse(args(a)).unwrap_err().0;
        assert_eq!(
            message(&["--config", "a", "--json", "--json"]),
            "--json given twice"
        );
        assert_eq!(
            message(&["--node-config", "--config", "a", "--node-config"]),
            "--node-config given twice"
        );
        assert_eq!(
            message(&["--config", "a", "--json", "--node-config"]),
            "--json and --node-config exclude each other"
        );
        assert_eq!(
            message(&["--config", "a", "--config", "b"]),
            "--config given twice"
        );
    }

    #[test]
    fn usage_errors() {
        for a in [
            &[][..],
            &["--json"],
            &["--config"],
            &["--config", "a", "--config", "b"],
            &["--config", "a", "--mongooseim-version", "six"],
            &["--config", "a", "--json", "--node-config"],
            &["--config", "a", "--verbose"],
            &["preview"],
        ] {
            assert!(parse(args(a)).is_err(), "{a:?}");
        }
    }
}
