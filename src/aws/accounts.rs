//! Which AWS account an invocation acts in, and the clients that reach it. The function's own
//! account is read from the ARN Lambda invokes it under (no API call); any other account is
//! reached through the member role, with one set of clients per account kept for the
//! container's life so that the assumed credentials are reused until they near expiry.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::domain::arn::Arn;
use crate::domain::ids::AccountId;

/// The clients of one account: what every remediation step is given to act through.
pub struct AccountClients<I, C, F> {
    pub iam: I,
    /// AWS Config: UserId lookups and what a rule is.
    pub inventory: C,
    /// Security Hub and Access Analyzer.
    pub findings: F,
}

/// The account and partition the function runs in, from its invoked ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeAccount {
    pub partition: String,
    pub account_id: AccountId,
}

impl HomeAccount {
    /// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`. `None` for
    /// anything else, such as the empty ARN of a test's `Context::default()`.
    pub fn from_function_arn(arn: &str) -> Option<Self> {
        let arn = Arn::parse(arn).filter(|arn| arn.service == "lambda")?;
        let account_id = AccountId::parse(arn.account).ok()?;
        Some(HomeAccount {
            partition: arn.partition.to_owned(),
            account_id,
        })
    }

    /// The member role's ARN in `account`, in the function's own partition (aws, aws-cn,
    /// aws-us-gov), since a role can only be assumed within one.
    pub fn member_role_arn(&self, account: &AccountId, role_name: &str) -> String {
        format!("arn:{}:iam::{account}:role/{role_name}", self.partition)
    }
}

/// Builds the clients that act through one role ARN. Building makes no call: the role is
/// assumed on the first request, and again whenever the credentials near expiry.
pub type Connect<I, C, F> = Box<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = AccountClients<I, C, F>> + Send>> + Send + Sync,
>;

type Shared<I, C, F> = Arc<AccountClients<I, C, F>>;

/// Member-account clients, built on first use and cached by role ARN.
pub struct MemberAccounts<I, C, F> {
    connect: Connect<I, C, F>,
    cache: Mutex<HashMap<String, Shared<I, C, F>>>,
}

impl<I, C, F> MemberAccounts<I, C, F> {
    pub fn new(connect: Connect<I, C, F>) -> Self {
        MemberAccounts {
            connect,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn clients(&self, role_arn: &str) -> Arc<AccountClients<I, C, F>> {
        let mut cache = self.cache.lock().await;
        if let Some(clients) = cache.get(role_arn) {
            return Arc::clone(clients);
        }
        let clients = Arc::new((self.connect)(role_arn.to_owned()).await);
        cache.insert(role_arn.to_owned(), Arc::clone(&clients));
        clients
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_home_account_and_partition_come_from_the_invoked_function_arn() {
        let cases = [
            (
                "arn:aws:lambda:us-east-1:123456789012:function:access-key-remediator",
                Some(("aws", "123456789012")),
            ),
            (
                "arn:aws-us-gov:lambda:us-gov-west-1:210987654321:function:f:live",
                Some(("aws-us-gov", "210987654321")),
            ),
            ("", None),
            ("arn:aws:lambda:us-east-1:1234:function:f", None),
            ("arn:aws:iam::123456789012:role/x", None),
        ];
        for (arn, expected) in cases {
            let home = HomeAccount::from_function_arn(arn);
            let got = home
                .as_ref()
                .map(|h| (h.partition.as_str(), h.account_id.as_str()));
            assert_eq!(got, expected, "{arn}");
        }
    }

    #[test]
    fn the_member_role_is_named_in_the_functions_own_partition() {
        let home = HomeAccount {
            partition: "aws-cn".into(),
            account_id: AccountId::parse("123456789012").unwrap(),
        };
        let member = AccountId::parse("210987654321").unwrap();
        assert_eq!(
            home.member_role_arn(&member, "KeyRemediatorMember"),
            "arn:aws-cn:iam::210987654321:role/KeyRemediatorMember"
        );
    }

    #[tokio::test]
    async fn clients_are_built_once_per_role_and_then_reused() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&built);
        let members: MemberAccounts<String, (), ()> = MemberAccounts::new(Box::new(move |arn| {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                AccountClients {
                    iam: arn,
                    inventory: (),
                    findings: (),
                }
            })
        }));

        let first = members.clients("arn:aws:iam::210987654321:role/m").await;
        let again = members.clients("arn:aws:iam::210987654321:role/m").await;
        let other = members.clients("arn:aws:iam::333333333333:role/m").await;

        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(other.iam, "arn:aws:iam::333333333333:role/m");
        assert_eq!(built.load(Ordering::SeqCst), 2);
    }
}
