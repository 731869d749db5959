"""The one place where boto3 sessions and clients are made, and where botocore errors become
one-line messages a user can act on.

boto3 is imported here, and this module is imported only by the commands that talk to AWS, so
the CLI's startup path stays free of it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
import botocore.exceptions as bx
from botocore.config import Config
from botocore.parsers import ResponseParserError

from mlops_bp.blueprints import MlopsBpError, UserError
from mlops_bp.blueprints.regions import AWS_REGIONS

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "RETRY_MODES",
    "ApiUnavailable",
    "Aws",
    "AwsAccessDenied",
    "AwsCredentialsError",
    "AwsError",
    "Identity",
    "aws_errors",
    "connect",
    "error_code",
    "explain",
    "pages",
    "retry_config",
    "validate_region",
]

RETRY_MODES = ("standard", "adaptive")
DEFAULT_RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 5

_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_INVALID = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthFailure",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "AuthorizationError"}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
}
# Codes meaning "this API does not exist here" (a service missing in a region, an emulator).
_UNSUPPORTED = {"UnknownOperationException", "InvalidAction", "NotImplemented", "UnsupportedOperation"}
_LOGIN_HINT = "run `aws configure` or `aws sso login`, or set AWS_PROFILE"


class AwsError(MlopsBpError):
    """AWS refused or failed a call for a reason the user did not obviously cause; exit code 1."""


class AwsCredentialsError(UserError):
    """Missing, invalid or expired credentials."""


class AwsAccessDenied(UserError):
    """The identity lacks a permission."""


class ApiUnavailable(Exception):
    """An API that does not exist where we called it; checks built on it report "could not verify"."""


def validate_region(region: str) -> str:
    if region not in AWS_REGIONS:
        close = difflib.get_close_matches(region, sorted(AWS_REGIONS), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UserError(f"region: {region!r} is not an AWS region; {hint}see `aws account list-regions`")
    return region


def retry_config(mode: str | None = None, max_attempts: int | None = None) -> Config:
    """botocore retries with backoff: explicit values, else AWS_RETRY_MODE / AWS_MAX_ATTEMPTS,
    else standard mode with DEFAULT_MAX_ATTEMPTS attempts."""
    mode = mode or os.environ.get("AWS_RETRY_MODE") or DEFAULT_RETRY_MODE
    if mode not in RETRY_MODES:
        raise UserError(f"retry mode: {mode!r} is not supported; one of {', '.join(RETRY_MODES)}")
    if max_attempts is None:
        raw = os.environ.get("AWS_MAX_ATTEMPTS")
        try:
            max_attempts = int(raw) if raw else DEFAULT_MAX_ATTEMPTS
        except ValueError:
            raise UserError(f"AWS_MAX_ATTEMPTS: {raw!r} is not a whole number") from None
    if max_attempts < 1:
        raise UserError(f"max attempts: must be at least 1 (got {max_attempts})")
    return Config(
        retries={"mode": mode, "total_max_attempts": max_attempts},  # counts the first try, like AWS_MAX_ATTEMPTS
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="mlops-bp",
    )


@dataclass(frozen=True)
class Identity:
    account: str
    arn: str


class Aws:
    """A boto3 session pinned to one validated region and one retry policy. Clients are made here
    and nowhere else, so every command honours --profile, --region and the endpoint override."""

    def __init__(
        self,
        session: boto3.Session,
        region: str,
        config: Config,
        endpoint_url: str | None = None,
        profile: str | None = None,
    ) -> None:
        self.session = session
        self.region = region
        self.config = config
        self.endpoint_url = endpoint_url
        self.profile = profile
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service, region_name=key[1], config=self.config, endpoint_url=self.endpoint_url
            )
        return self._clients[key]

    @cached_property
    def identity(self) -> Identity:
        """Who the credentials belong to (STS); the first call that needs credentials."""
        with aws_errors("sts:GetCallerIdentity"):
            data = self.client("sts").get_caller_identity()
        return Identity(account=data["Account"], arn=data["Arn"])


def connect(
    *,
    profile: str | None = None,
    region: str | None = None,
    default_region: str | None = None,
    endpoint_url: str | None = None,
    retry_mode: str | None = None,
    max_attempts: int | None = None,
) -> Aws:
    """An `Aws` for the usual AWS config chain. The region is `region`, else `default_region`
    (the blueprint's), else the chain's (AWS_REGION, the profile); it must be a known region.
    `endpoint_url` overrides where calls go; without it boto3 honours AWS_ENDPOINT_URL."""
    config = retry_config(retry_mode, max_attempts)
    try:
        session = boto3.Session(profile_name=profile)
    except bx.ProfileNotFound:
        raise UserError(
            f"profile: {profile!r} is not in the AWS config files; `aws configure list-profiles` lists them"
        ) from None
    # AWS_REGION is the SDKs' standard variable; boto3 itself reads only AWS_DEFAULT_REGION.
    chosen = region or default_region or os.environ.get("AWS_REGION") or session.region_name
    if not chosen:
        raise UserError("region: none given; pass --region, set AWS_REGION, or set `region` in mlops-bp.yaml")
    return Aws(session, validate_region(chosen), config, endpoint_url, profile)


def _short(text: str) -> str:
    return " ".join(str(text).split())[:300]


def _is_unsupported(exc: Exception) -> bool:
    if isinstance(exc, ResponseParserError | bx.UnknownServiceError):
        return True
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _UNSUPPORTED:
            return True
        # A bare numeric code is a status page, not an AWS error document: the API is not there.
        return code.isdigit() and (status in (404, 405) or status >= 500)
    return False


def explain(exc: Exception, action: str) -> MlopsBpError:
    """The one-line error for a botocore exception raised while doing `action` (e.g. "s3:CreateBucket")."""
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError | bx.NoAuthTokenError):
        return AwsCredentialsError(f"no AWS credentials found: {_LOGIN_HINT}")
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError | bx.SSOError):
        return AwsCredentialsError("the AWS SSO session has expired or is missing: run `aws sso login`")
    if isinstance(
        exc,
        bx.EndpointConnectionError
        | bx.ConnectTimeoutError
        | bx.ProxyConnectionError
        | bx.ConnectionClosedError
        | bx.ReadTimeoutError,
    ):
        where = getattr(exc, "kwargs", {}).get("endpoint_url", "AWS")
        return AwsError(f"{action}: cannot reach {where}; check the network, proxy, region and AWS_ENDPOINT_URL")
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        message = _short(error.get("Message", ""))
        if code in _EXPIRED:
            return AwsCredentialsError(f"the AWS credentials have expired: refresh them ({_LOGIN_HINT}) and rerun")
        if code in _INVALID:
            return AwsCredentialsError(f"the AWS credentials are not valid ({code}): {_LOGIN_HINT}")
        if code in _DENIED:
            return AwsAccessDenied(
                f"{action}: access denied; grant it to this identity or use another --profile ({message})"
            )
        if code in _THROTTLED:
            attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
            return AwsError(
                f"{action}: AWS is still throttling after {attempts} attempts; wait a minute and rerun, "
                "or allow more attempts with --max-attempts"
            )
        return AwsError(f"{action}: {code or 'error'}: {message}")
    if isinstance(exc, bx.ParamValidationError):
        return UserError(f"{action}: {_short(str(exc))}")
    return AwsError(f"{action}: {_short(str(exc))}")


@contextmanager
def aws_errors(
    action: str, *, optional: bool = False, unavailable_codes: frozenset[str] = frozenset()
) -> Iterator[None]:
    """Turn botocore errors raised inside into `explain(...)`. With `optional`, an API that does
    not exist here (or answers with one of `unavailable_codes`) raises ApiUnavailable instead,
    for checks that then say "could not verify"."""
    try:
        yield
    except (bx.BotoCoreError, bx.ClientError, ResponseParserError) as exc:
        code = error_code(exc) if isinstance(exc, bx.ClientError) else ""
        if optional and (_is_unsupported(exc) or code in unavailable_codes):
            raise ApiUnavailable(f"{action} is not available here ({code or type(exc).__name__})") from None
        raise explain(exc, action) from None


def error_code(exc: bx.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def pages(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    """Every item under `key` of a listing, following pagination when the API has it."""
    if client.can_paginate(operation):
        items: list[Any] = []
        for page in client.get_paginator(operation).paginate(**params):
            items.extend(page.get(key, []))
        return items
    return list(getattr(client, operation)(**params).get(key, []))
