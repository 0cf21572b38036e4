//! Amazon Resource Names, split into their parts once:
//! `arn:<partition>:<service>:<region>:<account>:<resource>`. Events and the Lambda context
//! name accounts, users and analyzers by ARN.

/// An ARN's parts, borrowed from its text. The account and region may be empty (IAM's ARNs
/// have no region), the resource keeps its own `/` and `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// `None` for text that is not `arn:` and five more parts.
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        )
        else {
            return None;
        };
        (!partition.is_empty() && !service.is_empty()).then_some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The IAM user an ARN names, path dropped: its last segment, since a name cannot hold `/`.
    pub fn iam_user_name(&self) -> Option<&'a str> {
        if self.service != "iam" || !self.region.is_empty() {
            return None;
        }
        let name = self.resource.strip_prefix("user/")?.rsplit('/').next()?;
        (!name.is_empty()).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::Arn;

    #[test]
    fn an_arn_splits_into_its_parts_and_keeps_the_resource_whole() {
        let arn = Arn::parse("arn:aws:lambda:us-east-1:123456789012:function:f:live").unwrap();
        assert_eq!(
            (
                arn.partition,
                arn.service,
                arn.region,
                arn.account,
                arn.resource
            ),
            (
                "aws",
                "lambda",
                "us-east-1",
                "123456789012",
                "function:f:live"
            )
        );
        for text in ["", "arn:aws:iam", "aws:iam::1:user/x", "arn::iam::1:user/x"] {
            assert_eq!(Arn::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_user_arn_names_its_user_without_the_path() {
        let cases = [
            ("arn:aws:iam::123456789012:user/alice", Some("alice")),
            (
                "arn:aws-cn:iam::123456789012:user/division/team/bob",
                Some("bob"),
            ),
            ("arn:aws:iam::123456789012:role/alice", None),
            ("arn:aws:iam::123456789012:user/", None),
            ("arn:aws:sts::123456789012:user/alice", None),
            ("arn:aws:iam:us-east-1:123456789012:user/alice", None),
        ];
        for (text, expected) in cases {
            let name = Arn::parse(text).and_then(|arn| arn.iam_user_name());
            assert_eq!(name, expected, "{text}");
        }
    }
}
