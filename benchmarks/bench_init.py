"""Benchmark: `mlops-bp init --level 4 --no-input` against plain cookiecutter rendering the
same template with the same context (a replay file), in the same run. Target: ratio <= 1.5.

Run: python benchmarks/bench_init.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _timing import Case, console_script, measure, print_table

from mlops_bp.blueprints import blueprint_from_data
from mlops_bp.templates.render import TEMPLATE_DIR, template_context

TARGET_RATIO = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    # The blueprint `init --level 4 --no-input` builds from its defaults.
    blueprint = blueprint_from_data({"name": "mlops-demo", "level": 4})
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        replay = root / "context.json"
        replay.write_text(json.dumps({"cookiecutter": template_context(blueprint, "github")}))
        ours = Case("mlops-bp init --level 4 --no-input", [])
        plain = Case("cookiecutter (same template, same context)", [])
        # Every run needs a new output directory (init refuses a non-empty one), so the cases
        # are re-aimed before each round; rounds alternate, so both see the same machine load.
        for i in range(args.repeat + 1):
            ours.argv = [console_script("mlops-bp"), "init", "--level", "4", "--no-input", "-o", root / f"ours-{i}"]
            plain.argv = [
                console_script("cookiecutter"),
                "--replay-file",
                replay,
                "-o",
                root / f"plain-{i}",
                TEMPLATE_DIR,
            ]
            measure([ours, plain], repeat=1, cwd=root, warmup=0)
    for case in (ours, plain):
        del case.times[0]  # the first round warms the file cache
    ratio = ours.median / plain.median
    rows = [(c.label, f"{c.median * 1000:.0f} ms", str(len(c.times))) for c in (ours, plain)]
    print_table(rows, ("command", "median", "runs"))
    print(f"ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
