//! The grants owner notices need: LookupEvents in every account the function reads keys in
//! (it has no resource-level permissions), Publish to the stack's own topic and SendEmail from
//! the one identity SesFromAddress names, both only in a mode that writes, as report mode
//! sends no notice.

use access_key_remediator::domain::policy::Mode;

use super::{CENTRAL_ACCOUNT, MODES, TEMPLATES, function_role};
use crate::support::cloudformation::{Statement, Template};

const SENDER_IDENTITY: &str =
    "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesFromAddress}";

fn central_grants(mode: Mode, ses_from: &str) -> Vec<Statement> {
    let given = [
        ("AWS::AccountId", CENTRAL_ACCOUNT),
        ("RemediationMode", mode.as_str()),
        ("SesFromAddress", ses_from),
    ];
    Template::load("template.yaml")
        .deploy(&given)
        .role_statements()
        .into_iter()
        .filter(|s| s.owner == function_role("template.yaml"))
        .collect()
}

fn granting<'a>(statements: &'a [Statement], action: &str) -> Vec<&'a Statement> {
    let grants = statements.iter();
    grants
        .filter(|s| s.actions.iter().any(|a| a == action))
        .collect()
}

#[test]
fn notices_publish_to_the_own_topic_and_email_from_the_one_identity_only_in_a_mode_that_writes() {
    for mode in MODES {
        for ses_from in ["", "security@example.com"] {
            let context = format!("{} SesFromAddress={ses_from:?}", mode.as_str());
            let statements = central_grants(mode, ses_from);
            let publish = granting(&statements, "sns:Publish");
            let notices: Vec<_> = publish
                .iter()
                .filter(|s| s.sid == "PublishOwnerNotices")
                .collect();
            assert_eq!(
                notices.len(),
                usize::from(mode != Mode::Report),
                "{context}"
            );
            for grant in notices {
                assert_eq!(grant.actions, ["sns:Publish"], "{context}");
                assert_eq!(grant.resources, ["!Ref NotificationTopic"], "{context}");
            }
            let email = granting(&statements, "ses:SendEmail");
            let expected = mode != Mode::Report && !ses_from.is_empty();
            assert_eq!(email.len(), usize::from(expected), "{context}: {email:#?}");
            for grant in email {
                assert_eq!(grant.actions, ["ses:SendEmail"], "{context}");
                assert_eq!(grant.resources, [SENDER_IDENTITY], "{context}");
            }
        }
    }
}

#[test]
fn both_roles_may_look_up_a_keys_recent_callers_and_nothing_else_on_that_grant() {
    for template in TEMPLATES {
        let statements = crate::support::cloudformation::role_statements(&Template::load(template));
        let lookups: Vec<_> = statements
            .iter()
            .filter(|s| s.owner == function_role(template))
            .filter(|s| s.actions.iter().any(|a| a == "cloudtrail:LookupEvents"))
            .collect();
        assert_eq!(lookups.len(), 1, "{template}: {lookups:#?}");
        assert_eq!(
            lookups[0].actions,
            ["cloudtrail:LookupEvents"],
            "{template}"
        );
        assert_eq!(lookups[0].only_if, None, "{template}: in every mode");
    }
}
