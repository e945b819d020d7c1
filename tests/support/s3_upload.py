"""Creates a bucket on an S3-compatible server and uploads a folder into it
with boto3, as a data team's pipeline would.

Usage: python s3_upload.py ENDPOINT BUCKET PREFIX FOLDER
"""
import os
import sys

from s3_client import client

endpoint, bucket, prefix, folder = sys.argv[1:5]
s3 = client(endpoint)
s3.create_bucket(Bucket=bucket)
for root, _, files in os.walk(folder):
    for name in files:
        path = os.path.join(root, name)
        key = prefix + "/" + os.path.relpath(path, folder).replace(os.sep, "/")
        s3.upload_file(path, bucket, key)
