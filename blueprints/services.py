"""Fixed names of the services mlops-bp's stacks and account commands talk to, written once:
the CI systems' OIDC issuers and the EventBridge detail types the stacks match and `assess`
recognises. Pure Python (the CLI's startup path may import it)."""

__all__ = [
    "ALARM_STATE_CHANGED",
    "CI_OIDC_HOSTS",
    "GITHUB_OIDC_HOST",
    "GITLAB_OIDC_HOST",
    "MODEL_PACKAGE_STATE_CHANGED",
    "PIPELINE_STATUS_CHANGED",
]

# OIDC issuers of the CI systems (GitLab self-managed instances have their own: `gitlab_host`).
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITLAB_OIDC_HOST = "gitlab.com"
CI_OIDC_HOSTS = {"github": GITHUB_OIDC_HOST, "gitlab": GITLAB_OIDC_HOST}

# EventBridge detail types (SageMaker and CloudWatch events).
PIPELINE_STATUS_CHANGED = "SageMaker Model Building Pipeline Execution Status Change"
MODEL_PACKAGE_STATE_CHANGED = "SageMaker Model Package State Change"
ALARM_STATE_CHANGED = "CloudWatch Alarm State Change"
