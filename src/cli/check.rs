//! `dicom-anonymizer check FILE…`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::EXIT_USAGE;
use crate::check::{check_with_params, has_errors};
use crate::diagnostic::Severity;
use crate::dialect::Dialect;
use crate::script::parse;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Which kind of script the files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A header script (RSNA / CTP DicomAnonymizer `.script`).
    Header,
    /// A CTP DicomFilter script (one condition).
    Filter,
    /// A CTP DicomPixelAnonymizer script (signatures and regions).
    Pixel,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The kind of script: `header`, `filter` or `pixel`.
    #[arg(long, value_enum, default_value = "header")]
    kind: Kind,
    /// Script files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Whose semantics to check against.
    #[arg(long, value_enum, default_value = "rsna")]
    dialect: Dialect,
    /// How to print the diagnostics.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print the syntax tree as JSON instead of the diagnostics.
    #[arg(long)]
    ast: bool,
    /// A script parameter given as `anonymize --param` gives it (CTP's
    /// `-pNAME VALUE`): it defines or overrides `@NAME`. Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
}

/// Exit status: 0 when no file has an error, 1 when some do, 2 when a file
/// cannot be read.
pub fn run(args: &CheckArgs) -> ExitCode {
    let params = match crate::policy::parse_params(&args.params) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut sources = Vec::with_capacity(args.files.len());
    for path in &args.files {
        match crate::policy::read_utf8(path) {
            Ok(text) => sources.push((path.display().to_string(), text)),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }

    let mut stdout = std::io::stdout().lock();
    let mut any_error = false;
    let mut json = Vec::new();
    let mut asts = Vec::new();
    let mut counts = [0usize; 3];
    for (file, source) in &sources {
        if args.kind != Kind::Header {
            let diagnostics = match args.kind {
                Kind::Filter => crate::filter::check(source),
                _ => crate::pixel::script::check(source),
            };
            any_error |= has_errors(&diagnostics);
            let lines = crate::script::span::LineIndex::new(source);
            for d in &diagnostics {
                counts[d.severity as usize] += 1;
                match args.format {
                    Format::Text => {
                        let _ = write!(stdout, "{}", d.render(file, source, &lines));
                    }
                    Format::Json => json.push(d.to_json(file, source, &lines)),
                }
            }
            continue;
        }
        let parsed = parse(source);
        let diagnostics = check_with_params(&parsed, args.dialect, &params);
        any_error |= has_errors(&diagnostics);
        if args.ast {
            match &parsed.script {
                Some(script) => asts.push(serde_json::json!({ "file": file, "script": script })),
                None => {
                    for d in &diagnostics {
                        eprint!("{}", d.render(file, source, &parsed.lines));
                    }
                }
            }
            continue;
        }
        for d in &diagnostics {
            counts[d.severity as usize] += 1;
            match args.format {
                Format::Text => {
                    let _ = write!(stdout, "{}", d.render(file, source, &parsed.lines));
                }
                Format::Json => json.push(d.to_json(file, source, &parsed.lines)),
            }
        }
    }

    if args.ast {
        let value = if asts.len() == 1 {
            asts.remove(0)
        } else {
            serde_json::Value::Array(asts)
        };
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else if args.format == Format::Json {
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let what = match args.kind {
            Kind::Header => format!("{} dialect", args.dialect.as_str()),
            Kind::Filter => "filter scripts".to_string(),
            Kind::Pixel => "pixel scripts".to_string(),
        };
        let _ = writeln!(
            stdout,
            "{}: {}, {}, {} ({what})",
            plural(sources.len(), "file"),
            plural(counts[Severity::Error as usize], "error"),
            plural(counts[Severity::Warning as usize], "warning"),
            plural(counts[Severity::Info as usize], "note"),
        );
    }
    if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
