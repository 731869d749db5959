"""CLI latency against its floors, as subprocesses (what a user waits for).

(a) `mlops-bp --help` vs the `--help` of a bare Typer hello-world script: target ratio <= 1.5.
(b) `mlops-bp plan --level 4 --github acme/demo` vs `python -c "import pulumi, pulumi_aws"`:
    target ratio <= 2.5. For context the table also shows a second, informational floor: importing
    pulumi plus the provider modules the plan actually loads, which no plan can avoid.

Run: `python benchmarks/bench_cli.py [--repeat N]`. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import Case, console_script, import_time_by_package, measure, print_table

HELP_TARGET = 1.5
PLAN_TARGET = 2.5
PLAN_ARGS = ("plan", "--level", "4", "--github", "acme/demo")

HELLO = '''\
import typer

app = typer.Typer()


@app.command()
def main(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


if __name__ == "__main__":
    app()
'''

# Prints the provider subpackages a plan really loads (pulumi_aws.s3, ...), to build the
# informational floor. The providers register every subpackage as a lazy module up front; a
# loaded one has become a plain module.
PROVIDER_MODULES_PROBE = """\
import json, sys, types
from mlops_bp.cli.app import app
try:
    app({args!r}, standalone_mode=False)
finally:
    mods = sorted(
        name for name, mod in list(sys.modules.items())
        if name.split(".")[0] in ("pulumi_aws", "pulumi_kubernetes") and name.count(".") == 1
        and type(mod) is types.ModuleType and hasattr(mod, "__path__")
    )
    print(json.dumps(mods), file=sys.stderr)
"""


def provider_modules(cwd: Path) -> list[str]:
    code = PROVIDER_MODULES_PROBE.format(args=list(PLAN_ARGS))
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"plan failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stderr.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per command (default 15)")
    args = parser.parse_args()

    mlops_bp = console_script("mlops-bp")
    # A scratch working directory: no mlops-bp.yaml from the checkout is picked up.
    with tempfile.TemporaryDirectory(prefix="mlops-bp-bench-") as tmp:
        cwd = Path(tmp)
        hello = cwd / "hello.py"
        hello.write_text(HELLO)
        modules = provider_modules(cwd)
        # hasattr on a lazy module makes it load (import_module alone returns the lazy stub).
        touch = "; ".join(f"hasattr(importlib.import_module({m!r}), '_')" for m in modules)

        help_floor = Case("typer hello --help", [sys.executable, hello, "--help"])
        help_case = Case("mlops-bp --help", [mlops_bp, "--help"])
        plan_floor = Case("import pulumi, pulumi_aws", [sys.executable, "-c", "import pulumi, pulumi_aws"])
        plan_floor_used = Case(
            f"import pulumi + {len(modules)} provider modules",
            [sys.executable, "-c", f"import importlib, pulumi, pulumi_aws; {touch}"],
        )
        plan_case = Case("mlops-bp " + " ".join(PLAN_ARGS), [mlops_bp, *PLAN_ARGS])
        cases = [help_floor, help_case, plan_floor, plan_floor_used, plan_case]
        python = sys.version.split()[0]
        print(f"{args.repeat} timed runs each after 1 warm-up, medians of wall time, python {python}")
        measure(cases, repeat=args.repeat, cwd=cwd)

        help_ratio = help_case.median / help_floor.median
        plan_ratio = plan_case.median / plan_floor.median
        plan_ratio_used = plan_case.median / plan_floor_used.median

        def verdict(ratio: float, target: float) -> str:
            return f"{ratio:.2f}x (target <= {target}x: {'ok' if ratio <= target else 'MISSED'})"

        print_table(
            [
                (help_floor.label, f"{help_floor.median * 1000:.0f}", "floor"),
                (
                    help_case.label,
                    f"{help_case.median * 1000:.0f}",
                    verdict(help_ratio, HELP_TARGET),
                ),
                (plan_floor.label, f"{plan_floor.median * 1000:.0f}", "floor"),
                (
                    plan_floor_used.label,
                    f"{plan_floor_used.median * 1000:.0f}",
                    "informational floor",
                ),
                (
                    plan_case.label,
                    f"{plan_case.median * 1000:.0f}",
                    verdict(plan_ratio, PLAN_TARGET) + f"; {plan_ratio_used:.2f}x the informational floor",
                ),
            ],
            header=("command", "median ms", "ratio"),
        )
        print(f"provider modules the plan loads: {', '.join(modules) or 'none'}")

        if help_ratio > HELP_TARGET:
            print("\n`mlops-bp --help` self import time by package (python -X importtime), ms:")
            print_table(
                [(name, f"{ms:.1f}") for name, ms in import_time_by_package([mlops_bp, "--help"], cwd)],
                header=("package", "ms"),
            )
    missed = [
        name
        for name, ratio, target in (
            ("help", help_ratio, HELP_TARGET),
            ("plan", plan_ratio, PLAN_TARGET),
        )
        if ratio > target
    ]
    if missed:
        print(f"\nFAILED: target missed for {', '.join(missed)}")
        return 1
    print("\nall targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
