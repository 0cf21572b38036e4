//! The Config path's first step: is the rule whose event arrived ACCESS_KEYS_ROTATED (under
//! whatever name), or a custom rule RULE_NAMES lists? One DescribeConfigRules per rule per
//! container, in the rule's own account; the warning about a differing `maxAccessKeyAge`,
//! once per rule per container.

use tracing::{info, warn};

use super::outcome::{Outcome, RemediationError};
use super::remediator::Remediator;
use crate::aws::accounts::AccountClients;
use crate::aws::{Config, Findings, Iam};
use crate::domain::policy::Policy;
use crate::domain::rules::{Recognition, RuleLookup, age_limit_mismatch, recognise};
use crate::report::{EventSource, Outcome as ReportOutcome, Report, SourceKind, Trigger};
use crate::triggers::UserTarget;

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    pub(super) async fn remediate_rule_event(
        &self,
        (at, policy): (&AccountClients<I, C, F>, &Policy),
        target: UserTarget,
        (rule_name, rule_arn): (&str, Option<&str>),
    ) -> Result<Outcome, RemediationError> {
        // The same name in two accounts is two rules; an ARN names one rule, with its name.
        let cache_key = format!(
            "{}/{}/{rule_name}",
            target.account,
            rule_arn.unwrap_or_default()
        );
        let lookup = self.rule_lookup(at, &cache_key, rule_name).await;
        let mut warnings = Vec::new();
        if let RuleLookup::Described(source) = &lookup
            && let Some(warning) = age_limit_mismatch(rule_name, source, policy.max_key_age_days)
            && self.memo.first_warning(&cache_key)
        {
            warn!(rule = rule_name, "{warning}");
            warnings.push(warning);
        }
        let source = |recognised: String| EventSource {
            kind: SourceKind::ConfigRule,
            id: rule_name.to_owned(),
            subject: match &lookup {
                RuleLookup::Described(source) => Some(source.identifier.clone()),
                _ => None,
            },
            recognised: Some(recognised),
            finding_update: None,
        };
        let mut outcome = match recognise(rule_name, &lookup, &self.settings.rule_names) {
            Recognition::Act(why) => {
                info!(rule = rule_name, "{why}");
                let mut outcome = self.remediate_event(at, &target, (policy, None)).await?;
                outcome.report.source = Some(source(why));
                outcome
            }
            Recognition::Ignore(why) => {
                let mut report = Report::nothing_done(
                    Trigger::Event,
                    policy.mode,
                    Some(target.account.clone()),
                    ReportOutcome::Ignored,
                    why.clone(),
                );
                report.source = Some(source(why));
                Outcome::done(report)
            }
        };
        outcome.report.warnings.extend(warnings);
        Ok(outcome)
    }

    /// What Config says the rule is: remembered, or asked once.
    async fn rule_lookup(
        &self,
        at: &AccountClients<I, C, F>,
        cache_key: &str,
        rule_name: &str,
    ) -> RuleLookup {
        if let Some(lookup) = self.memo.rule(cache_key) {
            return lookup;
        }
        let lookup = at.inventory.describe_rule(rule_name).await;
        self.memo
            .remember_rule(cache_key.to_owned(), lookup.clone());
        lookup
    }
}
