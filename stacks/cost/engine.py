"""Pricing a captured ResourceGraph with the price table and a usage profile.

Pure data in, data out: no Pulumi here, so a saved graph (`mlops-bp plan --json`) can be
priced without running the program. Every resource ends up in exactly one of three lists:
priced lines, free resources (with the reason), or unpriced resources (with the reason) —
an unknown resource is never counted as $0.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..graph import CapturedResource, ResourceGraph
from .table import CONVERSIONS, Charge, Link, PriceTable, ResourcePrice, load_price_table
from .usage import UsageProfile, runs_per_month

__all__ = ["CostLine", "Estimate", "FreeResource", "UnpricedResource", "estimate"]


@dataclass(frozen=True)
class CostLine:
    """One billed line: unit_price x quantity, with no traffic (idle) and at the usage profile."""

    environment: str
    resource: str
    type: str
    capability: str
    what: str
    unit: str
    unit_price: float
    idle_quantity: float
    usage_quantity: float
    source: str
    date: str

    @property
    def idle_cost(self) -> float:
        return self.unit_price * self.idle_quantity

    @property
    def usage_cost(self) -> float:
        return self.unit_price * self.usage_quantity


@dataclass(frozen=True)
class FreeResource:
    environment: str
    resource: str
    type: str
    capability: str
    note: str


@dataclass(frozen=True)
class UnpricedResource:
    environment: str
    resource: str
    type: str
    capability: str
    reason: str


@dataclass
class Estimate:
    """The monthly cost of one or more environments' graphs."""

    region: str
    lines: list[CostLine] = field(default_factory=list)
    free: list[FreeResource] = field(default_factory=list)
    unpriced: list[UnpricedResource] = field(default_factory=list)
    # What the totals leave out, said once each (price table `caveat`s of the types held).
    caveats: list[str] = field(default_factory=list)

    @property
    def idle_total(self) -> float:
        return round(sum(line.idle_cost for line in self.lines), 2)

    @property
    def usage_total(self) -> float:
        return round(sum(line.usage_cost for line in self.lines), 2)

    def by_capability(self) -> dict[str, tuple[float, float]]:
        """Capability -> (idle, at usage) cost, rounded to the cent."""
        sums: dict[str, list[float]] = {}
        for line in self.lines:
            acc = sums.setdefault(line.capability or "platform", [0.0, 0.0])
            acc[0] += line.idle_cost
            acc[1] += line.usage_cost
        return {k: (round(v[0], 2), round(v[1], 2)) for k, v in sums.items()}

    def extend(self, other: Estimate) -> None:
        self.lines += other.lines
        self.free += other.free
        self.unpriced += other.unpriced
        self.caveats += [c for c in other.caveats if c not in self.caveats]

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "region": self.region,
            "idle_total": self.idle_total,
            "usage_total": self.usage_total,
            "lines": [
                {**asdict(line), "idle_cost": round(line.idle_cost, 4), "usage_cost": round(line.usage_cost, 4)}
                for line in self.lines
            ],
            "free": [asdict(r) for r in self.free],
            "unpriced": [asdict(r) for r in self.unpriced],
            "caveats": list(self.caveats),
        }


class _Unpriced(Exception):
    """Why a resource cannot be priced (becomes an UnpricedResource)."""


_MISSING = object()
_K8S_UNITS = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "": 1,
}


def _storage_gb(value: Any) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGTP]i|[kMGTP])?", str(value).strip())
    if not match:
        raise _Unpriced(f"{value!r} is not a Kubernetes storage quantity")
    return float(match.group(1)) * _K8S_UNITS[match.group(2) or ""] / 10**9


def _runs(value: Any) -> float:
    try:
        return runs_per_month(str(value))
    except ValueError as exc:
        raise _Unpriced(str(exc)) from None


_CONVERSIONS = {
    "runs_per_month": _runs,
    "storage_gb": _storage_gb,
    "mb_to_gb": lambda v: _number(v) / 1024,
    "minutes_to_hours": lambda v: _number(v) / 60,
}
assert set(_CONVERSIONS) == CONVERSIONS


def _walk(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Unpriced(f"{value!r} is not a number")
    try:
        return float(value)
    except ValueError:
        raise _Unpriced(f"{value!r} is not a number") from None


@dataclass
class _Scope:
    """What refs resolve against while one charge (and maybe one list item) is priced."""

    inputs: dict[str, Any]
    usage: UsageProfile
    hours: float
    items: list[Any] = field(default_factory=list)
    item: Any = _MISSING
    linked: dict[str, Any] = field(default_factory=dict)

    def raw(self, ref: str) -> Any:
        scope, _, path = ref.partition(".")
        if scope == "hours" and not path:
            return self.hours
        if scope == "input":
            return _walk(self.inputs, path)
        if scope == "item":
            return _walk(self.item, path)
        if scope == "linked":
            return _walk(self.linked, path)
        if scope == "usage":
            value: Any = self.usage
            for part in path.split("."):
                value = getattr(value, part, _MISSING)
                if value is _MISSING:
                    break
            return value
        if scope == "share":
            weights = [item.get(path) if isinstance(item, dict) else None for item in self.items]
            if any(w is None for w in weights):
                return 1 / len(self.items)
            total = sum(_number(w) for w in weights)
            return _number(self.item[path]) / total if total else 1 / len(self.items)
        raise _Unpriced(f"unknown ref {ref!r} in the price table")

    def value(self, ref: str) -> Any:
        ref, _, conversion = (p.strip() for p in ref.partition("|"))
        value = self.raw(ref)
        if value is _MISSING:
            raise _Unpriced(f"{ref} is not set")
        return _CONVERSIONS[conversion](value) if conversion else value

    def holds(self, condition: str) -> bool:
        ref, op, expected = (p.strip() for p in condition.partition("=="))
        value = self.raw(ref)
        if value is _MISSING or value is None:
            return False
        return str(value) == expected if op else True

    def quantity(self, factors: list[float | str]) -> float:
        product = 1.0
        for factor in factors:
            product *= factor if isinstance(factor, float | int) else _number(self.value(factor))
        return product


def _linked(graph: ResourceGraph, scope: _Scope, link: Link) -> dict[str, Any]:
    name = scope.value(link.by)
    for other in graph:
        if other.type in link.types and other.inputs.get(link.key) == name:
            return other.inputs
    raise _Unpriced(f"{link.by} names {name!r}, which the graph does not declare")


def _charge_lines(
    graph: ResourceGraph,
    res: CapturedResource,
    env: str,
    charge: Charge,
    table: PriceTable,
    usage: UsageProfile,
    multiplier: float,
) -> list[CostLine]:
    base = _Scope(inputs=res.inputs, usage=usage, hours=table.hours_per_month)
    if charge.link is not None and (charge.when is None or base.holds(charge.when)):
        base.linked = _linked(graph, base, charge.link)
    scopes = [base]
    if charge.each:
        items = base.value(charge.each)
        if not isinstance(items, list):
            raise _Unpriced(f"{charge.each} is not a list")
        scopes = [_Scope(res.inputs, usage, table.hours_per_month, items, item, base.linked) for item in items]
    lines = []
    for scope in scopes:
        if charge.when and not scope.holds(charge.when):
            continue
        if charge.instance_price is not None:
            instance_type = str(scope.value(charge.instance_type or ""))
            found = table.instance_prices[charge.instance_price].get(instance_type)
            if found is None:
                raise _Unpriced(f"no {charge.instance_price} price for {instance_type}")
            price, source, date = found.usd_per_hour, found.source, found.date
            what = f"{charge.what} ({instance_type})"
        else:
            price, source, date, what = charge.price or 0.0, charge.source or "", charge.date, charge.what
        if isinstance(scope.item, dict) and scope.item.get("variantName"):
            what = f"{what}, variant {scope.item['variantName']}"
        quantity = scope.quantity(charge.quantity)
        lines.append(
            CostLine(
                environment=env,
                resource=res.name,
                type=res.type,
                capability=res.capability,
                what=what,
                unit=charge.unit,
                unit_price=price * (multiplier if charge.regional else 1.0),
                idle_quantity=quantity if charge.idle else 0.0,
                usage_quantity=quantity,
                source=source,
                date=str(date),
            )
        )
    return lines


def _price_resource(
    graph: ResourceGraph,
    res: CapturedResource,
    env: str,
    entry: ResourcePrice,
    table: PriceTable,
    usage: UsageProfile,
    multiplier: float,
) -> list[CostLine]:
    lines = [
        line for charge in entry.charges for line in _charge_lines(graph, res, env, charge, table, usage, multiplier)
    ]
    if not lines and entry.otherwise_free is None:
        raise _Unpriced("none of the price table's charges matches its inputs")
    return lines


def _region_of(graph: ResourceGraph) -> str | None:
    for res in graph:
        if res.type == "pulumi:providers:aws" and isinstance(res.inputs.get("region"), str):
            return res.inputs["region"]
    return None


def estimate(
    graph: ResourceGraph,
    usage: UsageProfile,
    *,
    region: str | None = None,
    environment: str | None = None,
    table: PriceTable | None = None,
) -> Estimate:
    """Price every resource of `graph` (components excluded: they are not cloud resources).

    The region defaults to the graph's AWS provider region; `environment` labels the lines
    (default: the graph's stack name).
    """
    table = table or load_price_table()
    region = region or _region_of(graph) or table.base_region
    env = environment or graph.stack
    multiplier = table.multiplier(region)
    result = Estimate(region=region)
    for res in graph:
        if res.is_component:
            continue
        entry = table.entry(res.type)
        where = (env, res.name, res.type, res.capability)
        if entry is None:
            result.unpriced.append(UnpricedResource(*where, "resource type is not in the price table"))
            continue
        if entry.caveat and entry.caveat not in result.caveats:
            result.caveats.append(entry.caveat)
        if entry.kind == "free":
            result.free.append(FreeResource(*where, entry.note))
            continue
        if multiplier is None:
            result.unpriced.append(UnpricedResource(*where, f"no prices for region {region} (see region_multipliers)"))
            continue
        try:
            lines = _price_resource(graph, res, env, entry, table, usage, multiplier)
        except _Unpriced as exc:
            result.unpriced.append(UnpricedResource(*where, str(exc)))
            continue
        if lines:
            result.lines += lines
        else:
            result.free.append(FreeResource(*where, entry.otherwise_free or ""))
    return result
