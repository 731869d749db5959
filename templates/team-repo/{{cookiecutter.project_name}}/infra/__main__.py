"""Pulumi program: the stack of one environment of ../mlops-bp.yaml, built by mlops-bp."""

import pulumi
from mlops_bp.stacks.entry import run_from_config

run_from_config(pulumi.Config("mlops-bp"), pulumi.get_stack())
