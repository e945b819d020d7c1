"""Lists a bucket of an S3-compatible server: one `key<TAB>size` per line.

Usage: python s3_list.py ENDPOINT BUCKET
"""
import os
import sys

import boto3

endpoint, bucket = sys.argv[1:3]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    aws_access_key_id=os.environ.get("S3_TEST_KEY", "test"),
    aws_secret_access_key=os.environ.get("S3_TEST_KEY", "test"),
    region_name="us-east-1",
)
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for item in page.get("Contents", []):
        print(f"{item['Key']}\t{item['Size']}")
