"""Pulumi entry point of this repository (see the root Pulumi.yaml).

The blueprint comes from stack config: either `mlops-bp:config` (path to an mlops-bp.yaml) or
the keys `mlops-bp:name`, `mlops-bp:level`, `mlops-bp:platform`, ... set with
`pulumi config set`. The stack name is the environment unless `mlops-bp:environment` says
otherwise. The repo's deploy workflow sets `mlops-bp:modelPackageArn` (the approved model to
serve) and `mlops-bp:gitSha` / `mlops-bp:modelVersion` (tags of the serving resources).
"""

from __future__ import annotations

import pulumi

from mlops_bp.stacks.entry import run_from_config

run_from_config(pulumi.Config("mlops-bp"), pulumi.get_stack())
