"""Pulumi policy pack: mlops-bp's rule pack over the stacks of ../Pulumi.yaml.

Each rule is a policy named by its id (MLOPS-S3-001...), mandatory unless ../../mlops-bp.yaml
lists it under `rules.advisory` with the reason. The blueprint is read when the pack starts,
as the Pulumi program reads it, so the exceptions are reviewed where the blueprint is.
"""

from pathlib import Path

from mlops_bp.blueprints import load_blueprint
from mlops_bp.stacks.rules.pulumi_policy import policies, serve

BLUEPRINT = load_blueprint(Path(__file__).resolve().parents[2] / "mlops-bp.yaml")
POLICIES = policies(BLUEPRINT.rules.advisory)

if __name__ == "__main__":
    serve("{{ cookiecutter.project_name }}-rules", POLICIES)
