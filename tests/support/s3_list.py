"""Lists a bucket of an S3-compatible server: one `key<TAB>size` per line.

Usage: python s3_list.py ENDPOINT BUCKET
"""
import sys

from s3_client import client

endpoint, bucket = sys.argv[1:3]
s3 = client(endpoint)
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for item in page.get("Contents", []):
        print(f"{item['Key']}\t{item['Size']}")
