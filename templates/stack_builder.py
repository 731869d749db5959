"""How a generated repo installs the stack builder (mlops-bp) wherever it goes: CI runners,
a colleague's laptop. `infra/requirements.txt` names it, and `infra/__main__.py` imports it.

- Installed from a package index: `mlops-bp==<version>`.
- Installed from git (pip records the commit, PEP 610): `mlops-bp @ git+<url>@<commit>`.
- Installed from a local folder or file: nothing another machine can install, so `init
  --stack-builder REQUIREMENT` says what to use (a published version, a git URL, a wheel URL);
  without it the repo pins the version and `init` says that this needs a choice.
`upgrade` and `update` record the mlops-bp that runs them, so the pin follows the templates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution

from mlops_bp.blueprints import UserError

__all__ = ["StackBuilder", "installed_stack_builder", "stack_builder"]

DISTRIBUTION = "mlops-bp"
# PEP 508 for this one distribution: a version specifier, or a direct reference (`@ URL`).
_REQUIREMENT = re.compile(r"mlops[-_.]bp\s*(\[[a-z0-9,\s_-]*\])?\s*((==|~=|>=)\s*[0-9][0-9A-Za-z.+!*-]*|@\s*\S+)", re.I)


@dataclass(frozen=True)
class StackBuilder:
    requirement: str
    source: str  # where it comes from, said to the user
    reproducible: bool  # False: only this machine has it (a local folder or file)


def installed_stack_builder() -> StackBuilder:
    """The requirement that reinstalls the running mlops-bp elsewhere, as far as one exists."""
    dist = distribution(DISTRIBUTION)
    version = dist.version
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except (PackageNotFoundError, ValueError):
        direct = None
    if not direct:
        return StackBuilder(f"{DISTRIBUTION}=={version}", "a package index", True)
    vcs = direct.get("vcs_info")
    if vcs and vcs.get("commit_id") and not direct["url"].startswith("file:"):
        url = direct["url"]
        return StackBuilder(f"{DISTRIBUTION} @ {vcs['vcs']}+{url}@{vcs['commit_id']}", f"{url} (git)", True)
    if direct["url"].startswith(("https://", "http://")):
        return StackBuilder(f"{DISTRIBUTION} @ {direct['url']}", direct["url"], True)
    return StackBuilder(f"{DISTRIBUTION}=={version}", direct["url"], False)


def stack_builder(requirement: str | None = None) -> StackBuilder:
    """`requirement` when the user chose one (checked), else the installed mlops-bp's."""
    if requirement is None:
        return installed_stack_builder()
    requirement = requirement.strip()
    if "\n" in requirement or not _REQUIREMENT.fullmatch(requirement):
        raise UserError(
            "stack-builder: must be a requirement for mlops-bp, e.g. 'mlops-bp==0.2.0' or "
            f"'mlops-bp @ git+https://github.com/OWNER/mlops-bp@COMMIT' (got {requirement[:200]!r})"
        )
    return StackBuilder(requirement, "--stack-builder", True)
