"""Before the first DAG run on AWS: read-only checks that the account holds what the settings expect."""
