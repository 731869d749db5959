"""`mlops-bp cost`: an offline monthly cost estimate priced from the captured resource graph.

The price table (prices.yaml) is data; the engine prices a ResourceGraph without Pulumi.
"""

from .blueprint import LevelEstimate, compare_levels, estimate_blueprint
from .engine import CostLine, Estimate, FreeResource, UnpricedResource, estimate
from .table import PriceTable, ResourcePrice, load_price_table
from .usage import UsageProfile, load_usage, runs_per_month, usage_for

__all__ = [
    "CostLine",
    "Estimate",
    "FreeResource",
    "LevelEstimate",
    "PriceTable",
    "ResourcePrice",
    "UnpricedResource",
    "UsageProfile",
    "compare_levels",
    "estimate",
    "estimate_blueprint",
    "load_price_table",
    "load_usage",
    "runs_per_month",
    "usage_for",
]
