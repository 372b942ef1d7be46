"""The validators of `validators.py` wrapped as mandatory pulumi-policy resource policies."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from policypack.validators import VALIDATORS, Validator


def _resource_policy(name: str, description: str, check: Validator) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in check(args.resource_type, args.props):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def build_policies() -> list[Policy]:
    """One mandatory policy per rule; a violation blocks `pulumi up`."""
    return [
        _resource_policy(name, description, check)
        for name, (description, check) in VALIDATORS.items()
    ]
