//! The layering the design promises (docs/design.md), checked on the source: each top-level
//! module of src/ names only modules of its own layer or below, and the domain stays pure.
//! A change that makes a stage reach up into the handler, or the policy read a setting, fails
//! here rather than in review.

use std::path::{Path, PathBuf};

use crate::support::project_path;

/// Bottom to top. A module may use `crate::X` only for an X of its own rank or lower.
const LAYERS: &[(&str, u8)] = &[
    ("domain", 0),
    ("report", 1),
    ("settings", 1),
    ("aws", 2),
    ("triggers", 3),
    ("remediate", 4),
    ("handler", 5),
    ("plan", 5),
    ("startup", 6),
];

fn rank(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, rank)| *rank)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The top-level module a file under src/ belongs to: `src/remediate/sweep.rs` → remediate.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_owned()
}

/// Every `crate::X` a file names, outside comments.
fn crate_references(source: &str) -> Vec<String> {
    source
        .lines()
        .map(|line| line.split("//").next().unwrap())
        .flat_map(|code| {
            code.match_indices("crate::")
                .map(|(at, _)| {
                    code[at + "crate::".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn no_module_names_a_module_above_its_layer() {
    let src = project_path("src");
    let mut violations = Vec::new();
    for file in rust_files(&src) {
        let module = module_of(&src, &file);
        let Some(own) = rank(&module) else {
            assert!(
                ["lib", "main"].contains(&module.as_str()),
                "{} is in no layer: add it to LAYERS and docs/design.md",
                file.display()
            );
            continue;
        };
        let source = std::fs::read_to_string(&file).unwrap();
        for used in crate_references(&source) {
            match rank(&used) {
                Some(theirs) if theirs > own => {
                    violations.push(format!("{} uses crate::{used}", file.display()))
                }
                _ => {}
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layering: {violations:#?}"
    );
}

#[test]
fn the_domain_does_no_io_and_reads_no_clock_settings_sdk_or_lambda_types() {
    let forbidden = [
        "async ",
        ".await",
        "tokio",
        "aws_sdk",
        "aws_smithy",
        "lambda_runtime",
        "aws_lambda_events",
        "std::fs",
        "std::env",
        "std::net",
        "SystemTime",
        "Instant",
        "now_utc",
        "crate::settings",
        "tracing",
    ];
    for file in rust_files(&project_path("src/domain")) {
        let source = std::fs::read_to_string(&file).unwrap();
        let code: String = source
            .lines()
            .map(|line| line.split("//").next().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        for word in forbidden {
            assert!(!code.contains(word), "{} mentions {word}", file.display());
        }
    }
}
