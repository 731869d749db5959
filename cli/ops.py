"""Commands that talk to an AWS account: `bootstrap`, `doctor`, `assess`, `promote`.

boto3 loads inside the commands, never at import time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mlops_bp.blueprints import BLUEPRINT_FILENAME, LEVELS, UserError

from .errors import err_console, out_console
from .options import BlueprintFlags, ConfigOpt, JsonOpt, NameOpt, RegionOpt, blueprint_flags

if TYPE_CHECKING:
    from .account.session import Aws

app = typer.Typer()

ProfileOpt = Annotated[
    str | None, typer.Option("--profile", help="AWS profile (default: the usual AWS config chain).", show_default=False)
]
RetryModeOpt = Annotated[
    str | None,
    typer.Option(
        "--retry-mode", help="botocore retry mode: standard or adaptive (default: standard).", show_default=False
    ),
]
MaxAttemptsOpt = Annotated[
    int | None,
    typer.Option("--max-attempts", min=1, help="Attempts per AWS call, with backoff (default: 5).", show_default=False),
]
BucketOpt = Annotated[
    str | None,
    typer.Option(
        "--bucket", help="State bucket name (default: <project>-pulumi-<account>-<region>).", show_default=False
    ),
]

_MARK = {"pass": "[green]✓[/]", "fail": "[red]✗[/]", "could not verify": "[yellow]?[/]"}


def _connect(
    profile: str | None,
    region: str | None,
    retry_mode: str | None,
    max_attempts: int | None,
    default_region: str | None = None,
) -> Aws:
    from .account.session import connect

    return connect(
        profile=profile, region=region, default_region=default_region, retry_mode=retry_mode, max_attempts=max_attempts
    )


@app.command()
def bootstrap(
    name: NameOpt = None,
    config: ConfigOpt = None,
    bucket: BucketOpt = None,
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    retry_mode: RetryModeOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the Pulumi state bucket and secrets key (idempotent, never deletes).

    Prints the `pulumi login` and `--secrets-provider` settings; inside a generated repo it also
    writes them into infra/Pulumi*.yaml and mlops-bp.yaml. A bucket or key with weaker settings
    that bootstrap did not create is reported (exit 1), never changed."""
    from .account.bootstrap import bootstrap as run_bootstrap
    from .account.bootstrap import is_generated_repo, write_repo_config

    if config is None and Path(BLUEPRINT_FILENAME).is_file():
        config = Path(BLUEPRINT_FILENAME)
    from mlops_bp.blueprints import load_blueprint

    blueprint = load_blueprint(config) if config is not None else None
    project = name or (blueprint.name if blueprint else None)
    if project is None:
        raise UserError(f"name: give --name PROJECT, or run inside a repo with {BLUEPRINT_FILENAME}")
    aws = _connect(profile, region, retry_mode, max_attempts, blueprint.region if blueprint else None)
    report = run_bootstrap(aws, project, bucket, blueprint)
    repo = config.resolve().parent if config is not None else Path.cwd()
    if blueprint is not None and is_generated_repo(repo):
        write_repo_config(repo, report, [e.name for e in blueprint.environments])
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "login": report.login_command(profile)}, indent=2))
    else:
        for item in report.created:
            out_console.print(f"[green]created[/] {escape(item)}")
        for item in report.completed:
            out_console.print(f"[green]completed[/] {escape(item)}")
        for item in report.existing:
            out_console.print(f"exists  {escape(item)}")
        for path in report.files:
            out_console.print(f"[green]wrote[/] {escape(path)}")
        if not report.changed:
            out_console.print("nothing to change: everything bootstrap manages is already in place")
        out_console.print("\nUse this state backend and secrets provider:")
        # commands stay whole, to copy
        out_console.print(f"  {escape(report.login_command(profile))}", soft_wrap=True)
        out_console.print(
            f"  pulumi stack init <env> --secrets-provider '{escape(report.secrets_provider)}'", soft_wrap=True
        )
    for finding in report.findings:
        err_console.print(f"[yellow]warning:[/] {escape(finding)}")
    if report.findings:
        err_console.print(
            f"{len(report.findings)} setting(s) are weaker than mlops-bp's defaults and were left as they are"
        )
        raise typer.Exit(1)


@app.command()
@blueprint_flags()
def doctor(
    flags: BlueprintFlags,
    bucket: BucketOpt = None,
    profile: ProfileOpt = None,
    retry_mode: RetryModeOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Preflight an AWS account for a blueprint before `pulumi up`.

    Checks credentials, region, permissions, the state bucket name, SageMaker quotas and the
    CI system's OIDC provider; exits 1 if any check fails."""
    blueprint = flags.resolve()
    from .account.doctor import doctor as run_doctor

    report = run_doctor(_connect(profile, blueprint.region, retry_mode, max_attempts), blueprint, bucket)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"doctor: {blueprint.name}, level {int(blueprint.level)}, {blueprint.region}")
        for column in ("", "check", "result", "fix"):
            table.add_column(column)
        for check in report.checks:
            table.add_row(_MARK[check.status.value], escape(check.name), escape(check.detail), escape(check.fix or ""))
        out_console.print(table)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def assess(
    profile: ProfileOpt = None,
    region: RegionOpt = None,
    retry_mode: RetryModeOpt = None,
    max_attempts: MaxAttemptsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Report the MLOps maturity level an existing AWS account reaches.

    Reads S3, KMS, ECR, SageMaker, EventBridge and CloudWatch, and shows per capability the
    level reached, the evidence, and what the next level adds."""
    from .account.assess import assess as run_assess

    result = run_assess(_connect(profile, region, retry_mode, max_attempts))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    from rich.table import Table

    table = Table(title=f"assess: account {result.account}, {result.region}")
    for column in ("capability", "level", "evidence", "next level adds"):
        table.add_column(column)
    for cap in result.capabilities:
        own = [f for f in result.features if f.capability == cap.capability]
        evidence = "\n".join(f"{_MARK[_status_mark(f.status.value)]} {escape(f.evidence)}" for f in own)
        shown = "-" if cap.level is None else str(cap.level)
        if cap.max_level != cap.level:
            shown += f" (up to {cap.max_level})"
        table.add_row(cap.capability, shown, evidence, escape("\n".join(cap.next_adds)))
    out_console.print(table)
    if result.level is None:
        out_console.print("overall: below level 0 (not every level-0 capability is in place)")
    else:
        out_console.print(f"overall: level {result.level} ({LEVELS[result.level].title})")
    for what, why in result.unread.items():
        err_console.print(f"[yellow]note:[/] could not read {what}: {escape(why)}")


def _status_mark(status: str) -> str:
    return {"found": "pass", "missing": "fail"}.get(status, "could not verify")


@app.command()
def promote(
    to: Annotated[str, typer.Option("--to", help="Environment to promote into (any but the primary).")],
    image_tag: Annotated[str, typer.Option("--image-tag", help="The commit whose images CI pushed.")],
    model_package_arn: Annotated[
        str | None,
        typer.Option(
            "--model-package-arn",
            help="Approved package of the primary's registry (default: the latest approved).",
            show_default=False,
        ),
    ] = None,
    artifacts_bucket: Annotated[
        str | None,
        typer.Option(
            "--artifacts-bucket",
            help="The target's artifacts bucket (default: its stack output, read with `pulumi stack output`).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Also write the result JSON to this file.", show_default=False)
    ] = None,
    profile: ProfileOpt = None,
    retry_mode: RetryModeOpt = None,
    max_attempts: MaxAttemptsOpt = None,
) -> None:
    """Promote a commit's images and an approved model package into another environment.

    Run with the target environment's CI role. Copies into the target's own image repository,
    artifacts bucket and registry, checking every digest against the one recorded at
    registration; refuses (exit 1, nothing written) an unapproved package, a package of another
    registry or account, or an artifact that changed. Prints JSON: image, model_package_arn."""
    from mlops_bp.blueprints import load_blueprint

    from .account.promote import promote as run_promote
    from .account.promote import stack_output

    path = config or Path(BLUEPRINT_FILENAME)
    if not path.is_file():
        raise UserError(f"config: no {path}; run inside a generated repo or pass --config")
    blueprint = load_blueprint(path)
    blueprint.environment(to)  # a clear error for an unknown environment, before any AWS call
    if artifacts_bucket is None and "model_registry" in blueprint.features:
        artifacts_bucket = stack_output(to, "artifacts_bucket", path.resolve().parent / "infra")
        if artifacts_bucket is None:
            raise UserError(
                f"--artifacts-bucket: not given, and `pulumi stack output artifacts_bucket --stack {to}` "
                "found none (deploy the stack once first)"
            )
    aws = _connect(profile, None, retry_mode, max_attempts, blueprint.region)
    result = run_promote(
        aws,
        blueprint,
        to=to,
        image_tag=image_tag,
        model_package_arn=model_package_arn or None,
        artifacts_bucket=artifacts_bucket,
    )
    text = json.dumps(result.to_dict(), indent=2, sort_keys=True)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)
