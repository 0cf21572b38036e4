"""The demo's owner notices: `subscribe` creates the notice topic and an SQS queue subscribed
to it (before the function runs); `show` prints how many notices reached the queue, and the
first one whole: its subject, message attributes and text.

    python show_notices.py subscribe|show ENDPOINT
"""

import json
import sys

import boto3

TOPIC = "access-key-notices"
QUEUE = "access-key-notices-demo"


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="demo", aws_secret_access_key="demo")


def subscribe(endpoint):
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    topic = sns.create_topic(Name=TOPIC)["TopicArn"]
    queue = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs",
                  Endpoint=queue_arn["Attributes"]["QueueArn"])
    print(topic)


def show(endpoint):
    sqs = client("sqs", endpoint)
    queue = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    notices = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        notices += [json.loads(message["Body"]) for message in batch]
    print(f"{len(notices)} notice(s) published to {TOPIC}")
    if not notices:
        return
    first = notices[0]
    attributes = {name: value["Value"] for name, value in first.get("MessageAttributes", {}).items()}
    print(f"first: {first.get('Subject')}")
    print(f"attributes: {json.dumps(attributes, sort_keys=True)}")
    print()
    print(first["Message"])


if __name__ == "__main__":
    {"subscribe": subscribe, "show": show}[sys.argv[1]](sys.argv[2])
