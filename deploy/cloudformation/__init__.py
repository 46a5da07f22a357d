"""Infrastructure as code: the CloudFormation template and its checks."""
