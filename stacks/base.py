"""What every mlops-bp component shares: its type token, its capability, child options, tags."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi

__all__ = ["COMPONENT_CAPABILITY", "CapabilityComponent", "policy_document", "static_policy"]

# Component type token -> capability (storage, registry, training, serving, monitoring, iam).
# Filled by subclassing; the plan groups captured resources by it.
COMPONENT_CAPABILITY: dict[str, str] = {}


class CapabilityComponent(pulumi.ComponentResource):
    """A ComponentResource that provides one capability of the platform."""

    TYPE: ClassVar[str]
    CAPABILITY: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        COMPONENT_CAPABILITY[cls.TYPE] = cls.CAPABILITY

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.TYPE, name, None, opts)

    def child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of a child resource: always parented to this component."""
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def stateful(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options of a child that holds data: protected against deletion."""
        return pulumi.ResourceOptions(parent=self, protect=True, **kwargs)


def policy_document(statements: list[Mapping[str, Any]]) -> pulumi.Output[str]:
    """An IAM policy JSON document; statements may hold Outputs (ARNs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def static_policy(statements: list[Mapping[str, Any]]) -> str:
    """An IAM policy JSON document made only of plain values."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True)
