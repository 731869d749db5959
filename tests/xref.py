"""Cross-references of a generated repo: every name its README, workflows, Makefile and scripts
use must exist where it lives, and every secret or variable the workflows read is documented.

- stack outputs (`pulumi stack output X`, the Pulumi action's `steps.up.outputs.X`): in the
  stack's outputs (captured by the plan);
- config keys (`mlops-bp:X`): read by the Pulumi program (stacks/entry.py, deploy tokens);
- make targets (`make X`): in the Makefile;
- mlops-bp commands and their flags (`mlops-bp promote --to ...`): in the CLI;
- repo paths in backticks in the README: in the repo;
- GitHub `secrets.X` / `vars.X` and GitLab CI/CD variables: named in the README.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

from mlops_bp.stacks.context import DEPLOY_TOKENS
from mlops_bp.stacks.entry import _OBJECT_KEYS, _SCALAR_KEYS

STACK_OUTPUT = re.compile(r"pulumi stack output ([a-z_]+)|steps\.up\.outputs\.([a-z_]+)")
CONFIG_KEY = re.compile(r"mlops-bp:([A-Za-z]+)")
MAKE_TARGET = re.compile(r"(?<![\w-])make ([a-z][a-z-]*)")
README_PATH = re.compile(r"`((?:\.?[A-Za-z0-9_-]+/)+[A-Za-z0-9_.-]*|[A-Za-z0-9_-]+\.(?:py|yml|yaml|toml|json|txt))`")
MLOPS_BP_COMMAND = re.compile(r"(?<![(\w/-])mlops-bp ([a-z][a-z-]*)([^\n`]*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
GITHUB_SETTING = re.compile(r"\b(secrets|vars)\.([A-Z][A-Z0-9_]+)")
GITLAB_VARIABLE = re.compile(r"\$\{?([A-Z][A-Z0-9_]+)")
# Variables GitLab defines itself, and those the pipeline file defines or a job sets.
GITLAB_PREDEFINED = re.compile(r"^(CI_|GITLAB_|HOME$|PATH$)")


def program_config_keys() -> set[str]:
    """Every `mlops-bp:` key the Pulumi program reads."""
    source = (files("mlops_bp.stacks") / "entry.py").read_text(encoding="utf-8")
    read = set(re.findall(r'(?:config\.get\w*\(|_checked\(config, )"(\w+)"', source))
    return read | set(_SCALAR_KEYS) | set(_OBJECT_KEYS) | {key for key, _ in DEPLOY_TOKENS.values()}


def cli_commands() -> dict[str, set[str]]:
    """Every mlops-bp command and the flags it takes."""
    import typer.main

    from mlops_bp.cli.app import app

    group = typer.main.get_command(app)
    return {
        name: {"--help"} | {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for name, command in group.commands.items()
    }


def _texts(repo: Path, *patterns: str) -> dict[str, str]:
    found = {}
    for pattern in patterns:
        for path in sorted(repo.glob(pattern)):
            if path.is_file():
                found[path.relative_to(repo).as_posix()] = path.read_text(encoding="utf-8")
    return found


def _makefile_targets(repo: Path) -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (repo / "Makefile").read_text(encoding="utf-8"), re.MULTILINE))


def _gitlab_defined(text: str) -> set[str]:
    """Variables the pipeline file itself defines (variables:, id_tokens:, `export X=`, `X=`)."""
    defined = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+):", text, re.MULTILINE))
    defined |= set(re.findall(r"(?:export\s+|^\s*-\s*|;\s*)([A-Za-z_][A-Za-z0-9_]*)=", text, re.MULTILINE))
    return defined


def problems(repo: Path, outputs: set[str]) -> list[str]:
    """What the repo names that does not exist, or uses without documenting."""
    found: list[str] = []
    readme = (repo / "README.md").read_text(encoding="utf-8")
    texts = _texts(repo, "README.md", "Makefile", ".github/workflows/*.yml", ".gitlab-ci.yml", "infra/*.py")
    keys, targets, commands = program_config_keys(), _makefile_targets(repo), cli_commands()
    for name, text in texts.items():
        for command, rest in MLOPS_BP_COMMAND.findall(text):
            if command not in commands:
                found.append(f"{name}: `mlops-bp {command}` is not a command")
                continue
            for flag in FLAG.findall(rest):
                if flag not in commands[command]:
                    found.append(f"{name}: `mlops-bp {command}` takes no {flag}")
        for match in STACK_OUTPUT.finditer(text):
            output = match[1] or match[2]
            if output not in outputs:
                found.append(f"{name}: stack output {output!r} is not an output of the stack")
        for key in CONFIG_KEY.findall(text):
            if key not in keys:
                found.append(f"{name}: config key mlops-bp:{key} is not read by the program")
        for target in MAKE_TARGET.findall(text):
            if target not in targets:
                found.append(f"{name}: `make {target}` is not a Makefile target")
        if name.endswith(".yml") and name.startswith(".github/"):
            for kind, setting in GITHUB_SETTING.findall(text):
                if setting not in readme:
                    found.append(f"{name}: {kind}.{setting} is not documented in README.md")
        if name == ".gitlab-ci.yml":
            defined = _gitlab_defined(text)
            for variable in sorted(set(GITLAB_VARIABLE.findall(text))):
                if GITLAB_PREDEFINED.match(variable) or variable in defined or variable in readme:
                    continue
                found.append(f"{name}: CI/CD variable {variable} is not documented in README.md")
    makefile = (repo / "Makefile").read_text(encoding="utf-8")
    for path in README_PATH.findall(readme):
        if path in makefile:
            continue  # a file a make target writes (e.g. `make data`)
        if not (repo / path.rstrip("/")).exists():
            found.append(f"README.md: `{path}` does not exist in the repo")
    return found
