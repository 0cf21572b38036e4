//! The summary step of the organisation sweep: the run's items and results, read back from
//! S3 when the Map's ItemReader and ResultWriter put them there, aligned account by account,
//! and totalled (`OrgSummary`).

use std::collections::HashMap;

use serde_json::Value;

use super::outcome::RemediationError;
use super::remediator::Remediator;
use crate::aws::run_store::RunStore;
use crate::aws::{Config, Findings, Iam};
use crate::report::org::{ObjectRef, OrgSummary, SweepItem, SweepRun, child_results, result_files};

impl<I: Iam, C: Config, F: Findings> Remediator<I, C, F> {
    /// Totals the run, reading what it left in S3.
    pub async fn summarise(&self, run: &SweepRun) -> Result<OrgSummary, RemediationError> {
        let accounts: Vec<SweepItem> = match &run.items {
            Some(items) => parsed(self.read(items).await?, "item list")?,
            None => run.accounts.clone(),
        };
        let results = match run.written_results() {
            Some(manifest) => self.written(&manifest, &accounts).await?,
            None => run.inline_results(),
        };
        Ok(OrgSummary::tally(run, &accounts, &results))
    }

    /// The ResultWriter's files, one result per item: by the account each child's input named.
    async fn written(
        &self,
        manifest: &ObjectRef,
        accounts: &[SweepItem],
    ) -> Result<Vec<Option<Value>>, RemediationError> {
        let listed: Value = parsed(self.read(manifest).await?, "result manifest")?;
        let mut by_account: HashMap<String, Value> = HashMap::new();
        for key in result_files(&listed) {
            let file = ObjectRef {
                bucket: manifest.bucket.clone(),
                key,
            };
            let children: Value = parsed(self.read(&file).await?, "result file")?;
            by_account.extend(child_results(&children));
        }
        Ok(accounts
            .iter()
            .map(|item| by_account.remove(&item.account))
            .collect())
    }

    async fn read(&self, object: &ObjectRef) -> Result<Vec<u8>, RemediationError> {
        let store = self.run_store()?;
        let body = store.object(&object.bucket, &object.key).await;
        body.map_err(RemediationError::RunStore)?
            .ok_or_else(|| RemediationError::RunUnreadable {
                what: "object",
                message: format!("s3://{}/{} does not exist", object.bucket, object.key),
            })
    }

    pub(super) fn run_store(&self) -> Result<&dyn RunStore, RemediationError> {
        let store = self.run_store.as_deref();
        store.ok_or(RemediationError::NoRunStore)
    }
}

fn parsed<T: serde::de::DeserializeOwned>(
    body: Vec<u8>,
    what: &'static str,
) -> Result<T, RemediationError> {
    serde_json::from_slice(&body).map_err(|error| RemediationError::RunUnreadable {
        what,
        message: error.to_string(),
    })
}
