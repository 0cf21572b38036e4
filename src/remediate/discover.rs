//! The discovery step of the organisation sweep: which accounts the state machine's Map sweeps,
//! each in its mode, and how many at once. With SWEEP_ORGANIZATION it walks AWS Organizations
//! from the roots (or the SWEEP_UNITS) down, leaving out SWEEP_EXCLUDE; otherwise it answers
//! SWEEP_ACCOUNTS, or this account alone.

use std::collections::{HashSet, VecDeque};

use futures::stream::{self, StreamExt, TryStreamExt};
use tracing::{info, warn};

use super::outcome::RemediationError;
use super::remediator::Remediator;
use crate::aws::AwsError;
use crate::aws::accounts::HomeAccount;
use crate::aws::organizations::OrganizationTree;
use crate::aws::{Config, Findings, Iam};
use crate::domain::ids::AccountId;
use crate::domain::org::{
    AccountState, FoundAccount, ModeSource, ModeTags, PlannedAccount, Scope, SweepPlan, UnitId,
    plan_sweep,
};
use crate::report::org::{DiscoveryAnswer, DiscoveryReport, InvalidTag, ObjectRef, SweepItem};

/// Room the fan-out leaves in the function's reserved concurrency for events that arrive
/// during a sweep.
pub const EVENT_HEADROOM: u32 = 2;

/// Organizations allows a few requests a second per account; a few tag reads at once keep
/// discovery of thousands of accounts within minutes without being throttled for long.
const TAG_READS_AT_ONCE: usize = 4;

/// Where in SWEEP_BUCKET each run's items go (the function may write only there).
pub const SWEEP_PREFIX: &str = "org-sweep";

/// An execution name as part of a key: Step Functions' own names are letters, digits, `-`
/// and `_`; anything else is not used.
fn is_key_part(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What the walk found below the scope's units.
struct Walked {
    found: Vec<FoundAccount>,
    tags: ModeTags,
    excluded_units: Vec<UnitId>,
}

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    /// Answers the discovery step of `execution`.
    pub async fn discover(
        &self,
        home: Option<&HomeAccount>,
        execution: Option<&str>,
    ) -> Result<DiscoveryAnswer, RemediationError> {
        let calls_before = self.api_calls.snapshot();
        let settings = &self.settings.organization;
        let mut report = DiscoveryReport::default();
        let plan = if settings.sweep_organization {
            report.source = "organizations";
            let organization = self.organization()?.as_ref();
            let walked = self.walk(organization, &settings.scope).await;
            let walked = walked.map_err(RemediationError::Discovery)?;
            report.discovered = walked.found.len();
            report.excluded_units = walked.excluded_units;
            let default = self.settings.policy.mode;
            plan_sweep(&walked.found, &walked.tags, &settings.scope, default)
        } else {
            report.source = "list";
            self.listed_plan(home).await?
        };
        if !settings.sweep_organization {
            report.discovered = plan.accounts.len() + plan.skipped.len();
        }
        tally_modes(&plan, &mut report);
        let max_concurrency = self.max_concurrency(&mut report.warnings);
        report.skipped = plan.skipped;
        let accounts: Vec<SweepItem> = plan.accounts.iter().map(item).collect();
        let planned = accounts.len();
        let (accounts, items) = match &settings.sweep_bucket {
            Some(bucket) => {
                let written = self.write_items(bucket, execution, &accounts).await?;
                (Vec::new(), Some(written))
            }
            None => (accounts, None),
        };
        report.calls = self.api_calls.since(&calls_before).values().sum();
        info!(
            source = report.source,
            discovered = report.discovered,
            planned = report.planned,
            skipped = report.skipped.len(),
            calls = report.calls,
            "discovery"
        );
        Ok(DiscoveryAnswer {
            accounts,
            items,
            planned,
            max_concurrency,
            tolerated_failure_percentage: settings.failure_tolerance_percent,
            discovery: report,
        })
    }

    /// Writes the Map's items to SWEEP_BUCKET, under the execution's name (or the time, when
    /// invoked by hand), for the Map's ItemReader.
    async fn write_items(
        &self,
        bucket: &str,
        execution: Option<&str>,
        items: &[SweepItem],
    ) -> Result<ObjectRef, RemediationError> {
        let run = match execution {
            Some(name) if is_key_part(name) => name.to_owned(),
            _ => format!("run-{}", time::OffsetDateTime::now_utc().unix_timestamp()),
        };
        let key = format!("{SWEEP_PREFIX}/{run}/accounts.json");
        let body = serde_json::to_vec(items).unwrap_or_default();
        let store = self.run_store()?;
        store
            .put_json(bucket, &key, body)
            .await
            .map_err(RemediationError::RunStore)?;
        Ok(ObjectRef {
            bucket: bucket.to_owned(),
            key,
        })
    }

    /// SWEEP_ACCOUNTS (or this account alone), each in its mode: the tags' when ORG_MODE_TAGS
    /// is on, else the stack's.
    async fn listed_plan(&self, home: Option<&HomeAccount>) -> Result<SweepPlan, RemediationError> {
        let settings = &self.settings.organization;
        let mut accounts = settings.sweep_accounts.clone();
        if accounts.is_empty() {
            accounts.extend(home.map(|home| home.account_id.clone()));
        }
        let mut plan = SweepPlan::default();
        for account in accounts {
            let (mode, mode_source) = if settings.mode_tags {
                self.tagged_mode(&account).await?
            } else {
                (self.settings.policy.mode, ModeSource::Default)
            };
            plan.accounts.push(PlannedAccount {
                account,
                mode,
                mode_source,
            });
        }
        Ok(plan)
    }

    /// MAP_MAX_CONCURRENCY, lowered to leave EVENT_HEADROOM in RESERVED_CONCURRENCY.
    fn max_concurrency(&self, warnings: &mut Vec<String>) -> u32 {
        let settings = &self.settings.organization;
        let asked = settings.map_max_concurrency;
        let Some(reserved) = settings.reserved_concurrency else {
            return asked;
        };
        let room = reserved.saturating_sub(EVENT_HEADROOM).max(1);
        if asked <= room {
            return asked;
        }
        let warning = format!(
            "MAP_MAX_CONCURRENCY {asked} leaves no room for events in RESERVED_CONCURRENCY \
             {reserved}; the sweep runs {room} accounts at once (reserved concurrency must be at \
             least MapMaxConcurrency + {EVENT_HEADROOM})"
        );
        warn!("{warning}");
        warnings.push(warning);
        room
    }

    /// Walks the scope's units breadth first: each unit's accounts and child units, and the
    /// mode tags of the units and of the accounts that will be planned.
    async fn walk(
        &self,
        organization: &dyn OrganizationTree,
        scope: &Scope,
    ) -> Result<Walked, AwsError> {
        let tagged = self.settings.organization.mode_tags;
        let mut walked = Walked {
            found: Vec::new(),
            tags: ModeTags::new(),
            excluded_units: Vec::new(),
        };
        let mut queue = starting_units(organization, scope, tagged, &mut walked.tags).await?;
        let mut reached = HashSet::new();
        while let Some((unit, parents)) = queue.pop_front() {
            // A unit SWEEP_UNITS names below another it names is reached twice: walk it once.
            if !reached.insert(unit.clone()) {
                continue;
            }
            if !scope.walks(&unit) {
                walked.excluded_units.push(unit);
                continue;
            }
            if tagged && let Some(value) = organization.mode_tag(unit.as_str()).await? {
                walked.tags.insert(unit.as_str().to_owned(), value);
            }
            let mut path = vec![unit.clone()];
            path.extend(parents);
            let accounts = organization.accounts_under(&unit).await?;
            let plannable: Vec<&AccountId> = accounts
                .iter()
                .filter(|found| found.state == AccountState::Active)
                .map(|found| &found.account)
                .filter(|account| !scope.excluded_accounts.contains(account))
                .collect();
            if tagged {
                walked
                    .tags
                    .extend(account_tags(organization, &plannable).await?);
            }
            walked
                .found
                .extend(accounts.into_iter().map(|found| FoundAccount {
                    account: found.account,
                    state: found.state,
                    parents: path.clone(),
                }));
            for child in organization.units_under(&unit).await? {
                queue.push_back((child, path.clone()));
            }
        }
        Ok(walked)
    }
}

/// Where the walk starts: every root, or each SWEEP_UNITS unit with its parents, whose tags
/// still apply to the accounts below it.
async fn starting_units(
    organization: &dyn OrganizationTree,
    scope: &Scope,
    tagged: bool,
    tags: &mut ModeTags,
) -> Result<VecDeque<(UnitId, Vec<UnitId>)>, AwsError> {
    let mut queue = VecDeque::new();
    if scope.units.is_empty() {
        let roots = organization.roots().await?;
        queue.extend(roots.into_iter().map(|root| (root, Vec::new())));
    }
    for unit in &scope.units {
        let parents = ancestry(organization, unit.as_str(), tagged, tags).await?;
        queue.push_back((unit.clone(), parents));
    }
    Ok(queue)
}

/// An organisation nests OUs at most five deep below its root; more means a loop in what we
/// read.
const MAX_DEPTH: usize = 6;

/// The parents of an account or unit, nearest first up to the root, with their mode tags.
pub(super) async fn ancestry(
    organization: &dyn OrganizationTree,
    child: &str,
    tagged: bool,
    tags: &mut ModeTags,
) -> Result<Vec<UnitId>, AwsError> {
    let mut parents = Vec::new();
    let mut child = child.to_owned();
    while let Some(parent) = organization.parent_of(&child).await? {
        if tagged && let Some(value) = organization.mode_tag(parent.as_str()).await? {
            tags.insert(parent.as_str().to_owned(), value);
        }
        child = parent.as_str().to_owned();
        let at_root = parent.is_root();
        parents.push(parent);
        if at_root || parents.len() > MAX_DEPTH {
            break;
        }
    }
    Ok(parents)
}

/// The mode tags of these accounts, a few read at once.
async fn account_tags(
    organization: &dyn OrganizationTree,
    accounts: &[&AccountId],
) -> Result<Vec<(String, String)>, AwsError> {
    let read = stream::iter(accounts.iter().copied())
        .map(|account| async move {
            let tag = organization.mode_tag(account.as_str()).await?;
            Ok::<_, AwsError>(tag.map(|value| (account.as_str().to_owned(), value)))
        })
        .buffered(TAG_READS_AT_ONCE);
    let tags: Vec<Option<(String, String)>> = read.try_collect().await?;
    Ok(tags.into_iter().flatten().collect())
}

/// The planned accounts per mode, and the invalid tags that gave some of them `report`.
fn tally_modes(plan: &SweepPlan, report: &mut DiscoveryReport) {
    report.planned = plan.accounts.len();
    for planned in &plan.accounts {
        let mode = planned.mode.as_str().to_owned();
        *report.modes.entry(mode).or_default() += 1;
        if let ModeSource::InvalidTag { on, value } = &planned.mode_source {
            let tag = InvalidTag {
                on: on.clone(),
                value: value.clone(),
            };
            if !report.invalid_tags.contains(&tag) {
                report.invalid_tags.push(tag);
            }
        }
    }
}

fn item(planned: &PlannedAccount) -> SweepItem {
    SweepItem {
        account: planned.account.to_string(),
        mode: planned.mode.as_str().to_owned(),
    }
}
