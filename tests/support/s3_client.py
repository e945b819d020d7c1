"""The boto3 client the S3 test helpers share: the test server's endpoint
and its test key (`S3_TEST_KEY`, default `test`)."""
import os

import boto3


def client(endpoint):
    key = os.environ.get("S3_TEST_KEY", "test")
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=key,
        region_name="us-east-1",
    )
