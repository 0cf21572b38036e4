"""Evaluates the stack's filters with real implementations of AWS's matching rules, for
tests/it/stack_policy.rs and tests/it/notification_filter.rs (which take the filters from
template.yaml).

    python filters.py event-pattern   < {"pattern": PATTERN, "events": [EVENT, ...]}
        validates PATTERN as EventBridge's PutRule does (an invalid pattern exits non-zero),
        then answers {"matched": [bool, ...]}: whether a rule with PATTERN matches each event.
    python filters.py sns-filter      < {"filterPolicy": POLICY, "messages": [BODY, ...]}
        validates POLICY as SNS's Subscribe call does for FilterPolicyScope MessageBody (an
        invalid policy exits non-zero with SNS's message), then answers
        {"delivered": [bool, ...]}: whether SNS would deliver each message body (a JSON value)
        to the subscription.

Both use localstack-core's matchers, the code LocalStack's EventBridge and SNS route with.
moto 5.2.5 does not serve: its TestEventPattern is not implemented, and it cannot evaluate
"$or" in SNS's MessageBody scope (the policy needs it: deactivated > 0 or deleted > 0 or
failed > 0): it rejects a nested "$or" at Subscribe as "Filter policy is too complex" and
raises KeyError 'Value' at Publish on a top-level one.
"""

import json
import sys


def event_pattern(request):
    from localstack.aws.api.events import InvalidEventPatternException
    from localstack.services.events.event_rule_engine import EventPatternCompiler, EventRuleEngine

    try:
        compiled = EventPatternCompiler().compile_event_pattern(request["pattern"])
    except InvalidEventPatternException as error:
        sys.exit(f"EventBridge would refuse the pattern: {error}")
    engine = EventRuleEngine()
    matched = [engine.evaluate_pattern_on_event(compiled, event) for event in request["events"]]
    return {"matched": matched}


def sns_filter(request):
    from localstack.aws.api.sns import InvalidParameterException
    from localstack.services.sns.filter import FilterPolicyValidator, SubscriptionFilter

    policy = request["filterPolicy"]
    try:
        FilterPolicyValidator(scope="MessageBody", is_subscribe_call=True).validate_filter_policy(
            policy
        )
    except InvalidParameterException as error:
        sys.exit(f"SNS would refuse the filter policy: {error}")
    matcher = SubscriptionFilter()
    delivered = [
        matcher.check_filter_policy_on_message_body(policy, json.dumps(message))
        for message in request["messages"]
    ]
    return {"delivered": delivered}


def main():
    commands = {"event-pattern": event_pattern, "sns-filter": sns_filter}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: filters.py {{{','.join(commands)}}} < request.json")
    answer = commands[sys.argv[1]](json.load(sys.stdin))
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
