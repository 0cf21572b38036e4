//! The remediation mode: what the function is allowed to change (REMEDIATION_MODE).

use serde::Serialize;

/// What the function is allowed to change, least first: a mode allows all that those before
/// it allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Decide and report; make no IAM write call at all.
    Report,
    /// Deactivate and mark over-age keys; never delete.
    Deactivate,
    /// The full lifecycle: deactivate, wait out the grace period, delete.
    Delete,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Report => "report",
            Mode::Deactivate => "deactivate",
            Mode::Delete => "delete",
        }
    }
}
