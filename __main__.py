"""The Pulumi program of this repository: Customer.io credential rotation on AWS and GCP.

Everything lives in `infra/`; this file only hands control to it, so the program
can also be evaluated under Pulumi's mocks by tests and the benchmark.
"""

from infra.program import main

main()
