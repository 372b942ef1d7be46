"""The name of the local stack: what the program's `pulumi.get_stack()` would be. Both local
clouds are one stack, the way one Pulumi stack deploys to AWS and GCP."""

STACK = "local"
