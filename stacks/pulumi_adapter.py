"""The one place that touches Pulumi's private runtime: everything capture needs that the
public API (`pulumi.runtime.set_mocks`, `Mocks`, `set_all_config`) does not give.

Pulumi's public mocks run a program and answer its registrations, but keep nothing of them
(options, parents, inputs as sent) and give no way to run a program to completion on a loop of
our own or read its exports. So capture leans on five internals, each used only here:

- `pulumi.runtime.mocks.MockMonitor`: the monitor `set_mocks` would build; capture subclasses it
  to record each RegisterResource request (and to name URNs itself: some SDK versions do not
  carry the project and stack into the registering thread);
- `pulumi.runtime.rpc.deserialize_properties` and the secret signature
  (`_special_sig_key`, `_special_secret_sig`): a request's inputs as values, secrets masked;
- `pulumi.runtime.stack.run_pulumi_func`: runs the program and waits for every registration;
- `pulumi.runtime.settings.ROOT` / `get_root_resource()`: a fresh root stack per capture, and
  its exports.

`problems()` names each one a Pulumi release removed or changed, with the installed version;
tests/test_pulumi_adapter.py runs it, and `capture` refuses to run with a one-line error
instead of failing somewhere inside Pulumi. pyproject.toml accepts the Pulumi versions CI
tests.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

from mlops_bp.blueprints import MlopsBpError

__all__ = [
    "PulumiChanged",
    "deserialize",
    "is_secret",
    "mock_monitor_class",
    "problems",
    "require",
    "reset_root_stack",
    "root_exports",
    "run_program",
]


class PulumiChanged(MlopsBpError):
    """The installed Pulumi lacks an internal capture needs."""


def _internals() -> dict[str, Callable[[], Any]]:
    """name -> how to reach it (each import happens only when asked for)."""

    def mock_monitor() -> Any:
        from pulumi.runtime import mocks

        return mocks.MockMonitor

    def rpc() -> Any:
        from pulumi.runtime import rpc

        return rpc

    def run_pulumi_func() -> Any:
        from pulumi.runtime.stack import run_pulumi_func

        return run_pulumi_func

    def settings() -> Any:
        from pulumi.runtime import settings

        return settings

    return {
        "pulumi.runtime.mocks.MockMonitor": mock_monitor,
        "pulumi.runtime.rpc": rpc,
        "pulumi.runtime.stack.run_pulumi_func": run_pulumi_func,
        "pulumi.runtime.settings": settings,
    }


# What each internal must offer: attributes, and "name(n)" / "(n)" for a callable (an
# attribute, or the internal itself) that capture calls with n positional arguments.
_EXPECTED: Mapping[str, tuple[str, ...]] = {
    "pulumi.runtime.mocks.MockMonitor": ("RegisterResource", "make_urn", "__init__(1)"),
    "pulumi.runtime.rpc": ("deserialize_properties(1)", "_special_sig_key", "_special_secret_sig"),
    "pulumi.runtime.stack.run_pulumi_func": ("(1)",),
    "pulumi.runtime.settings": ("ROOT", "get_root_resource(0)"),
}


def _takes(function: Callable[..., Any], count: int) -> bool:
    """Can `function` be called with `count` positional arguments (after self)?"""
    params = [p for p in inspect.signature(function).parameters.values() if p.name != "self"]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
    return len(required) <= count and (count <= len(positional) or varargs)


def problems() -> list[str]:
    """Each internal capture uses that the installed Pulumi no longer offers as expected."""
    pulumi_version = version("pulumi")
    found = []
    for name, reach in _internals().items():
        try:
            target = reach()
        except (ImportError, AttributeError) as exc:
            found.append(f"pulumi {pulumi_version}: {name} is gone ({exc})")
            continue
        for expected in _EXPECTED[name]:
            attribute, _, arity = expected.partition("(")
            member = getattr(target, attribute, None) if attribute else target
            if member is None:
                found.append(f"pulumi {pulumi_version}: {name}.{attribute} is gone")
            elif arity and not _takes(member, int(arity.rstrip(")"))):
                where = f"{name}.{attribute}" if attribute else name
                found.append(
                    f"pulumi {pulumi_version}: {where}{inspect.signature(member)} does not take "
                    f"{arity.rstrip(')')} argument(s)"
                )
    return found


def require() -> None:
    """Stop with one line when the installed Pulumi changed an internal capture uses."""
    found = problems()
    if found:
        raise PulumiChanged(f"this mlops-bp cannot capture with the installed Pulumi: {found[0]}")


def _rpc() -> Any:
    return _internals()["pulumi.runtime.rpc"]()


def is_secret(value: Any) -> bool:
    """A deserialised value that stands for a secret."""
    rpc = _rpc()
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def deserialize(properties: Any) -> Any:
    """A RegisterResource request's properties (a protobuf Struct) as Python values."""
    return _rpc().deserialize_properties(properties)


def reset_root_stack() -> None:
    """Forget the root stack of an earlier capture: the next program gets a fresh one."""
    _internals()["pulumi.runtime.settings"]().ROOT.set(None)


def root_exports() -> dict[str, Any]:
    """The `pulumi.export`s of the program that just ran (held by its root stack)."""
    return dict(_internals()["pulumi.runtime.settings"]().get_root_resource().outputs)


def run_program(program: Callable[[], Any]) -> Any:
    """The awaitable that runs `program` and waits for all its registrations."""
    return _internals()["pulumi.runtime.stack.run_pulumi_func"]()(program)


def mock_monitor_class() -> type:
    """The monitor `set_mocks` would build, for capture to subclass."""
    return _internals()["pulumi.runtime.mocks.MockMonitor"]()
