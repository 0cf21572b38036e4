"""Owner notices in the emulator: the SNS topic they are published to, the SES identity they
are sent from, and what reached each, read in-process from moto's backends (no API call, so
the call counts stay the function's own). And CloudTrail's LookupEvents, which moto 5.2 lacks:
answered with no events, as for an account whose event history holds none for the key.
emulator.py routes the commands here and documents them."""

import json

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

OPS = ("sns_topic", "sns_messages", "ses_identity", "ses_messages")

# What moto lacks, answered here (the awsJson 1.1 operation name).
ANSWERED = ("LookupEvents",)


def sns(account=None, region="us-east-1"):
    return sns_backends[account or DEFAULT_ACCOUNT_ID][region]


def ses(account=None, region="us-east-1"):
    return ses_backends[account or DEFAULT_ACCOUNT_ID][region]


def handle(op, command):
    account, region = command.get("account"), command.get("region", "us-east-1")
    if op == "sns_topic":
        return {"arn": sns(account, region).create_topic(command["name"]).arn}
    if op == "sns_messages":
        return {"messages": sns_messages(sns(account, region), command.get("topicArn"))}
    if op == "ses_identity":
        ses(account, region).verify_email_identity(command["address"])
        return {}
    if op == "ses_messages":
        return {"messages": [
            {"id": m.id, "source": m.source, "subject": getattr(m, "subject", None),
             "body": getattr(m, "body", None), "destinations": m.destinations}
            for m in ses(account, region).sent_messages
        ]}
    raise ValueError(f"unknown op {op!r}")


def sns_messages(backend, topic_arn=None):
    """Every message published to the topic (or to any), in order: its attributes as
    {name: {"Type", "Value"}}, as moto holds them."""
    return [
        {"topicArn": topic.arn, "messageId": message_id, "message": message, "subject": subject,
         "attributes": attributes or {}}
        for topic in backend.topics.values() if topic_arn in (None, topic.arn)
        for message_id, message, subject, attributes, _group in topic.sent_notifications
    ]


def answer(action, start_response):
    """LookupEvents with no events, in the awsJson 1.1 shape."""
    assert action in ANSWERED
    data = json.dumps({"Events": []}).encode()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"),
                              ("Content-Length", str(len(data)))])
    return [data]


def reset():
    sns_backends.reset()
    ses_backends.reset()
