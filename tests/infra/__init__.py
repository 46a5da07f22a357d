"""Tests of the infrastructure: CloudFormation template, MWAA bundle, docker compose, teardown."""
