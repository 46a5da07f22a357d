"""The Amazon MWAA bundle: build what MWAA reads from S3, and deploy it."""
