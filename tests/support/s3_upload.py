"""Creates a bucket on an S3-compatible server and uploads a folder into it
with boto3, as a data team's pipeline would.

Usage: python s3_upload.py ENDPOINT BUCKET PREFIX FOLDER
"""
import os
import sys

import boto3

endpoint, bucket, prefix, folder = sys.argv[1:5]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id=os.environ.get("S3_TEST_KEY", "test"),
    aws_secret_access_key=os.environ.get("S3_TEST_KEY", "test"),
    region_name="us-east-1",
)
s3.create_bucket(Bucket=bucket)
for root, _, files in os.walk(folder):
    for name in files:
        path = os.path.join(root, name)
        key = prefix + "/" + os.path.relpath(path, folder).replace(os.sep, "/")
        s3.upload_file(path, bucket, key)
