"""Every captured input, at every nesting level, is a property the provider SDK declares.

Pulumi passes dict keys it does not know straight through to the provider, which rejects them
only at `pulumi up` time. The provider SDKs ship their input types, so this test checks every
key of every captured resource against them (the pulumi-aws 7.x / pulumi-kubernetes 4.x API),
offline.
"""

from __future__ import annotations

import collections.abc
import importlib
import typing

import pytest
from pulumi import _types as pulumi_types

from .graphs import LEVEL_ENVS, graph, overrides

PACKAGES = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes"}


def _args_class(token: str) -> type | None:
    package, module, name = token.split(":")
    if package not in PACKAGES or module == "index":
        return None
    if package == "kubernetes":
        # "networking.k8s.io/v1" -> pulumi_kubernetes.networking.v1; custom resources
        # (ServiceMonitor, HTTPRoute, ...) have no SDK module and are skipped.
        group, version = module.split("/")
        module_path = f"{group.split('.')[0]}.{version}"
    else:
        module_path = module.split("/")[0]
    try:
        mod = importlib.import_module(f"{PACKAGES[package]}.{module_path}")
        getattr(mod, name)
    except (ImportError, AttributeError):
        return None
    # When a nested input type already has the name `<Name>Args`, the SDK names the
    # resource's own arguments `<Name>InitArgs` (e.g. s3.BucketServerSideEncryptionConfiguration).
    resource_module = importlib.import_module(getattr(mod, name).__module__)
    return getattr(resource_module, f"{name}InitArgs", None) or getattr(resource_module, f"{name}Args", None)


def _inner(tp: typing.Any) -> list[typing.Any]:
    """The concrete types a Pulumi input annotation admits (Input/Optional/Union unwrapped)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        return [t for arg in typing.get_args(tp) for t in _inner(arg)]
    if origin is collections.abc.Awaitable or tp is type(None):
        return []
    if origin is not None and getattr(origin, "__name__", "") == "Output":
        return []
    return [tp]


def _check(value: typing.Any, tp: typing.Any, path: str, problems: list[str]) -> None:
    for candidate in _inner(tp):
        origin = typing.get_origin(candidate)
        if isinstance(value, list) and origin in (collections.abc.Sequence, list):
            (item_type,) = typing.get_args(candidate)
            for i, item in enumerate(value):
                _check(item, item_type, f"{path}[{i}]", problems)
            return
        if isinstance(value, dict) and origin in (collections.abc.Mapping, dict):
            return  # free-form map (tags, environment, ...)
        if isinstance(value, dict) and isinstance(candidate, type) and pulumi_types.is_input_type(candidate):
            known = pulumi_types.input_type_types(candidate)
            for key, item in value.items():
                if key not in known:
                    problems.append(f"{path}.{key}: not a property of {candidate.__name__}")
                else:
                    _check(item, known[key], f"{path}.{key}", problems)
            return


CASES = [(level, env, "sagemaker") for level, env in LEVEL_ENVS] + [(level, "dev", "kubernetes") for level in range(5)]


@pytest.mark.parametrize(("level", "env", "platform"), CASES, ids=[f"{p}-L{n}-{e}" for n, e, p in CASES])
def test_every_input_is_declared_by_the_provider_sdk(level, env, platform):
    problems: list[str] = []
    checked = 0
    for res in graph(level, env, platform).custom:
        args_class = _args_class(res.type)
        if args_class is None:
            continue
        checked += 1
        known = pulumi_types.input_type_types(args_class)
        for key, value in res.inputs.items():
            if key not in known:
                problems.append(f"{res.type} {res.name}: {key} is not an input")
            else:
                _check(value, known[key], f"{res.name}.{key}", problems)
    assert checked
    assert problems == []


def test_network_and_spot_variants_are_declared_too():
    network = {"subnet_ids": ["subnet-0123abcd"], "security_group_ids": ["sg-0123abcd"]}
    g = graph(
        4,
        "prod",
        **overrides(network=network, training={"use_spot": True}, monitoring={"alarm_email": "ops@example.com"}),
    )
    problems: list[str] = []
    for res in g.custom:
        args_class = _args_class(res.type)
        if args_class is not None:
            known = pulumi_types.input_type_types(args_class)
            for key, value in res.inputs.items():
                _check(value, known.get(key, typing.Any), f"{res.name}.{key}", problems)
    assert problems == []


def test_the_checker_catches_a_misspelt_key():
    from pulumi_aws.sagemaker import EndpointConfigurationArgs

    problems: list[str] = []
    known = pulumi_types.input_type_types(EndpointConfigurationArgs)
    _check([{"variantName": "a", "serverlesConfig": {}}], known["productionVariants"], "cfg", problems)
    assert problems == ["cfg[0].serverlesConfig: not a property of EndpointConfigurationProductionVariantArgs"]
