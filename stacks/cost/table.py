"""The price table shipped with the package (prices.yaml), as strict models.

Pricing rules are data: a resource type maps to charges whose quantities are products of
numbers and refs into the resource's captured inputs or the usage profile, so a new resource
type needs a table entry, not code.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from functools import cache
from importlib.resources import files
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Charge", "InstancePrice", "Link", "PriceTable", "RegionMultipliers", "ResourcePrice", "load_price_table"]

# What a ref may start with, and the conversions after `|` (implemented in engine.py).
REF_SCOPES = frozenset({"input", "item", "linked", "share", "usage", "hours"})
CONVERSIONS = frozenset({"runs_per_month", "storage_gb", "mb_to_gb", "minutes_to_hours"})

InstanceTable = Literal["sagemaker_notebook", "sagemaker_training", "sagemaker_processing", "sagemaker_hosting", "ec2"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstancePrice(_Strict):
    usd_per_hour: float = Field(gt=0)
    source: str = Field(min_length=1)
    date: dt.date


class Link(_Strict):
    """Another resource of the graph a charge reads (refs `linked.<path>`), found by name."""

    by: str = Field(description="Ref holding the other resource's name, e.g. input.jobDefinitionName.")
    types: list[str] = Field(min_length=1, description="Type tokens the other resource may have.")
    key: str = Field("name", description="Input of the other resource that holds its name.")


class Charge(_Strict):
    """One line of a resource's bill: unit price x the product of the quantity factors."""

    what: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    price: float | None = Field(None, ge=0, description="USD per unit in the base region.")
    instance_price: InstanceTable | None = None
    instance_type: str | None = Field(None, description="Ref to the instance type, for instance_price.")
    quantity: list[float | str] = Field(min_length=1)
    idle: bool = Field(description="Billed with no traffic and no training.")
    each: str | None = Field(None, description="Input path of a list: one line per item.")
    when: str | None = Field(None, description="Ref that must exist, or `ref == value`.")
    link: Link | None = None
    regional: bool = True
    source: str | None = None
    date: dt.date | None = None

    @model_validator(mode="after")
    def _one_price(self) -> Charge:
        if (self.price is None) == (self.instance_price is None):
            raise ValueError("give exactly one of price or instance_price")
        if self.instance_price is not None and self.instance_type is None:
            raise ValueError("instance_price needs instance_type")
        if self.price is not None and (self.source is None or self.date is None):
            raise ValueError("a price needs its source and date")
        refs = [f for f in self.quantity if isinstance(f, str)]
        refs += [r for r in (self.instance_type, self.each, self.when and self.when.partition("==")[0]) if r]
        for ref in refs:
            path, _, conversion = (p.strip() for p in ref.partition("|"))
            if path.split(".", 1)[0] not in REF_SCOPES:
                raise ValueError(f"ref {ref!r} must start with one of {', '.join(sorted(REF_SCOPES))}")
            if conversion and conversion not in CONVERSIONS:
                raise ValueError(f"unknown conversion {conversion!r} (one of {', '.join(sorted(CONVERSIONS))})")
        return self


class ResourcePrice(_Strict):
    kind: Literal["free", "priced", "usage_only"]
    note: str = ""
    caveat: str | None = Field(None, description="Said with every estimate that holds this type (text and JSON).")
    charges: list[Charge] = Field(default_factory=list)
    otherwise_free: str | None = Field(None, description="Why the resource is free when no charge applies.")

    @model_validator(mode="after")
    def _consistent(self) -> ResourcePrice:
        if self.kind == "free" and (self.charges or not self.note):
            raise ValueError("a free entry has a note saying why and no charges")
        if self.kind != "free" and not self.charges:
            raise ValueError(f"a {self.kind} entry needs charges")
        if self.kind == "usage_only" and any(c.idle for c in self.charges):
            raise ValueError("a usage_only entry has no idle charges")
        if self.kind == "priced" and not any(c.idle for c in self.charges):
            raise ValueError("a priced entry has at least one idle charge (else it is usage_only)")
        return self


class RegionMultipliers(_Strict):
    source: str
    date: dt.date
    multipliers: dict[str, float]


class PriceTable(_Strict):
    currency: Literal["USD"]
    base_region: str
    hours_per_month: float = Field(gt=0)
    region_multipliers: RegionMultipliers
    instance_prices: dict[InstanceTable, dict[str, InstancePrice]]
    resources: dict[str, ResourcePrice]

    def entry(self, type_: str) -> ResourcePrice | None:
        """The entry of a type token: an exact key, else the longest matching glob."""
        if type_ in self.resources:
            return self.resources[type_]
        globs = [k for k in self.resources if "*" in k and fnmatch.fnmatchcase(type_, k)]
        return self.resources[max(globs, key=len)] if globs else None

    def multiplier(self, region: str) -> float | None:
        return self.region_multipliers.multipliers.get(region)


@cache
def load_price_table() -> PriceTable:
    """The price table shipped with mlops-bp."""
    text = (files("mlops_bp.stacks.cost") / "prices.yaml").read_text(encoding="utf-8")
    return PriceTable.model_validate(yaml.safe_load(text))
