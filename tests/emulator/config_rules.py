"""Config rules in moto's own Config, for DescribeConfigRules to describe: the AWS-managed
ACCESS_KEYS_ROTATED under any name, or a custom Lambda rule. moto's PutConfigRule accepts a
custom rule only when its Lambda function exists in moto, which the tests have no use for, so
a custom rule is put as a managed one and its source then set as Config reports a custom
rule's (Owner CUSTOM_LAMBDA, the function's ARN, the events that trigger it)."""

import json

from moto.config.models import SourceDetail, config_backends
from moto.core import DEFAULT_ACCOUNT_ID

MANAGED_RULE = "ACCESS_KEYS_ROTATED"
# The managed rule's parameter is required; the console and Security Hub fill in 90.
DEFAULT_MAX_ACCESS_KEY_AGE = 90


def put_rule(name, managed=True, max_access_key_age=None, account=None, region="us-east-1"):
    """Creates (or replaces) the rule `name`; answers {"arn"} as Config generated it."""
    account = account or DEFAULT_ACCOUNT_ID
    backend = config_backends[account][region]
    age = DEFAULT_MAX_ACCESS_KEY_AGE if max_access_key_age is None else max_access_key_age
    backend.put_config_rule({
        "ConfigRuleName": name,
        "Scope": {"ComplianceResourceTypes": ["AWS::IAM::User"]},
        "Source": {"Owner": "AWS", "SourceIdentifier": MANAGED_RULE},
        "InputParameters": json.dumps({"maxAccessKeyAge": str(age)}),
        "MaximumExecutionFrequency": "TwentyFour_Hours",
    })
    rule = backend.config_rules[name]
    if not managed:
        rule.source.owner = "CUSTOM_LAMBDA"
        rule.source.source_identifier = f"arn:aws:lambda:{region}:{account}:function:{name}"
        rule.source.source_details = [SourceDetail("aws.config", "ConfigurationItemChangeNotification")]
        rule.input_parameters = None if max_access_key_age is None else json.dumps(
            {"maxAccessKeyAge": str(max_access_key_age)})
        rule.maximum_execution_frequency = None
    return {"arn": rule.config_rule_arn}


def reset():
    config_backends.reset()
