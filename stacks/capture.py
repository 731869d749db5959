"""Run a Pulumi program in-process under Pulumi's official mocks and capture what it registers.

This is the offline plan: the real program runs (`pulumi.runtime.set_mocks`), no engine, no
provider plugins, no credentials. What the public API does not give is reached through
`pulumi_adapter`, the only module that touches Pulumi's internals. Every registration is
recorded with its type, name, URN, parent, inputs and options (protect, ...), giving the
ResourceGraph that plan, diff, cost and
the policy tests read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from threading import Lock
from typing import Any

import pulumi

from . import pulumi_adapter
from .base import COMPONENT_CAPABILITY
from .graph import CapturedResource, ResourceGraph

__all__ = ["MOCK_ACCOUNT_ID", "SECRET", "PlanMocks", "capture"]

MOCK_ACCOUNT_ID = "123456789012"
SECRET = "[secret]"


def _aws_service(type_: str) -> str:
    # "aws:sagemaker/endpoint:Endpoint" -> "sagemaker"
    return type_.split(":")[1].split("/")[0].lower()


class PlanMocks(pulumi.runtime.Mocks):
    """Plausible provider answers, so the program runs as it would under `pulumi up`.

    Outputs are the inputs plus what the provider computes (ids, ARNs, URLs). Extra outputs of
    a resource type are added in `_computed` — a plan never needs real values, only the shape.
    """

    def __init__(self, region: str = "us-east-1", account: str = MOCK_ACCOUNT_ID) -> None:
        self.region = region
        self.account = account  # what the deploying credentials' account would be

    def _computed(self, type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        region, account = self.region, self.account
        kind_name = type_.rsplit(":", 1)[-1]
        # The physical name: `name`, or the type's own `<kind>Name` (pipelineName, ...).
        physical = inputs.get("name") or inputs.get(kind_name[:1].lower() + kind_name[1:] + "Name") or name
        out: dict[str, Any] = {"name": physical}
        if type_.startswith("aws:"):
            service = _aws_service(type_)
            kind = type_.rsplit(":", 1)[-1].lower()
            out["arn"] = f"arn:aws:{service}:{region}:{account}:{kind}/{physical}"
        if type_ == "aws:s3/bucket:Bucket" or type_ == "aws:s3/bucketV2:BucketV2":
            bucket = inputs.get("bucket") or f"{name}-mock"
            out.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketDomainName=f"{bucket}.s3.amazonaws.com")
        elif type_ == "aws:kms/key:Key":
            out.update(keyId=f"{name}-key-id", arn=f"arn:aws:kms:{region}:{account}:key/{name}-key-id")
        elif type_ == "aws:ecr/repository:Repository":
            out["repositoryUrl"] = f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}"
        elif type_.startswith("aws:iam/"):
            out["arn"] = f"arn:aws:iam::{account}:{type_.rsplit(':', 1)[-1].lower()}/{physical}"
            if type_ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
                out["arn"] = f"arn:aws:iam::{account}:oidc-provider/{inputs.get('url', '').removeprefix('https://')}"
        elif type_ == "aws:eks/cluster:Cluster":
            out.update(
                endpoint=f"https://{name}.eks.{region}.amazonaws.com",
                certificateAuthority={"data": "bW9jay1jYQ=="},
                identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/MOCK{name.upper()}"}]}],
                version=inputs.get("version", "1.31"),
            )
        return out

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = {**self._computed(args.typ, args.name, args.inputs), **args.inputs}
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account,
                "arn": f"arn:aws:iam::{self.account}:user/plan",
                "userId": "AIDAPLAN",
                "id": self.account,
            }
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:eks/getCluster:getCluster":
            # An existing cluster looks like one this program would create.
            found = self._computed("aws:eks/cluster:Cluster", args.args["name"], dict(args.args))
            return {**found, "certificateAuthorities": [found["certificateAuthority"]], "id": args.args["name"]}
        return dict(args.args)


def _plain(value: Any) -> Any:
    """Inputs as JSON-able data. Secret values are never shown: they become "[secret]"."""
    if isinstance(value, dict):
        if pulumi_adapter.is_secret(value):
            return SECRET
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pulumi.Resource):
        return f"<resource {type(value).__name__}>"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _engine_urn(urn: str) -> str:
    """The URN the real engine gives: the mock monitor also prefixes the root stack's type."""
    return urn.replace("::pulumi:pulumi:Stack$", "::", 1)


class _CapturingMonitor(pulumi_adapter.mock_monitor_class()):  # type: ignore[misc]
    """The mock monitor that also keeps each registration's options and parent."""

    def __init__(self, mocks: pulumi.runtime.Mocks, project: str, stack: str) -> None:
        super().__init__(mocks)
        self.project, self.stack = project, stack
        self.captured: list[CapturedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The base class reads project and stack from Pulumi's context variables, which some
        # SDK versions do not carry into the thread that registers resources.
        if parent:
            type_ = parent.split("::")[2].split("$").pop() + "$" + type_
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = pulumi_adapter.deserialize(request.object)
        self.captured.append(
            CapturedResource(
                type=request.type,
                name=request.name,
                urn=_engine_urn(response.urn),
                parent=_engine_urn(request.parent),
                inputs=_plain(inputs),
                custom=bool(request.custom),
                protect=bool(request.protect),
                provider=_engine_urn(request.provider),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replace_on_changes=tuple(request.replaceOnChanges),
                ignore_changes=tuple(request.ignoreChanges),
            )
        )
        return response


async def _exports() -> dict[str, Any]:
    """The program's `pulumi.export`s (held by the root stack), resolved; secrets masked."""
    exported = pulumi_adapter.root_exports()
    values: dict[str, Any] = {}
    for key, value in sorted(exported.items()):
        output = pulumi.Output.from_input(value)
        values[key] = SECRET if await output.is_secret() else _plain(await output.future())
    return values


def _with_capabilities(resources: list[CapturedResource]) -> list[CapturedResource]:
    """Tag each resource with the capability of its nearest capability component."""
    by_urn = {r.urn: r for r in resources}
    tagged = []
    for res in resources:
        node: CapturedResource | None = res
        capability = ""
        while node is not None:
            if node.type in COMPONENT_CAPABILITY:
                capability = COMPONENT_CAPABILITY[node.type]
                break
            node = by_urn.get(node.parent)
        tagged.append(CapturedResource(**{**res.__dict__, "capability": capability}))
    return tagged


@contextmanager
def _owned_event_loops() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop for one capture, whose worker threads' loops are closed with it.

    Pulumi's mock monitor runs each registration in a thread of the loop's default executor,
    and each such thread makes itself an event loop (`_ensure_event_loop`) that nobody closes.
    Left to the garbage collector at interpreter exit, such a loop's `__del__` can run after
    its self-pipe socket was finalised and print "Invalid file descriptor: -1". Here every
    thread gets its loop from us; the threads are joined and all the loops closed before the
    capture returns.
    """
    loops: list[asyncio.AbstractEventLoop] = []
    lock = Lock()

    def own_loop() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with lock:
            loops.append(loop)

    main = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="mlops-bp-capture", initializer=own_loop)
    main.set_default_executor(executor)
    asyncio.set_event_loop(main)
    try:
        yield main
    finally:
        try:
            main.run_until_complete(main.shutdown_asyncgens())
        finally:
            executor.shutdown(wait=True)
            for loop in [*loops, main]:
                loop.close()
            asyncio.set_event_loop(None)


def capture(
    program: Callable[[], Any],
    *,
    project: str = "mlops-bp",
    stack: str = "dev",
    region: str = "us-east-1",
    mocks: pulumi.runtime.Mocks | None = None,
    config: dict[str, str] | None = None,
    secret_keys: tuple[str, ...] = (),
) -> ResourceGraph:
    """Run `program` under mocks and return every resource it registered. `config` is the
    stack configuration the program sees (`pulumi.Config`)."""
    pulumi_adapter.require()
    mocks = mocks or PlanMocks(region)
    pulumi.runtime.set_all_config(dict(config or {}), list(secret_keys))
    monitor = _CapturingMonitor(mocks, project, stack)
    with _owned_event_loops() as loop:
        # set_mocks binds Pulumi's runtime state to the current event loop: set it up inside.
        pulumi_adapter.reset_root_stack()  # a fresh root stack for every capture
        pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
        loop.run_until_complete(pulumi_adapter.run_program(program))
        outputs = loop.run_until_complete(_exports())
    resources = sorted(_with_capabilities(monitor.captured), key=lambda r: r.urn)
    return ResourceGraph(project=project, stack=stack, resources=resources, outputs=outputs)
