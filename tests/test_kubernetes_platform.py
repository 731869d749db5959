"""The kubernetes platform per level, captured under mocks: kinds, key fields, the cluster,
IRSA, providers, RBAC and the upgrade invariant."""

from __future__ import annotations

import json

import pytest

from mlops_bp.blueprints import BlueprintError
from mlops_bp.stacks.kubernetes.monitoring import KUBE_PROMETHEUS_CHART
from mlops_bp.stacks.kubernetes.rbac import DEPLOY_RULES
from mlops_bp.stacks.plan import plan

from .conftest import make_blueprint
from .graphs import graph, overrides

K8S = "kubernetes"
NS = "fraud-detect-dev"
EKS = {"cluster": {"create": True, "subnet_ids": ["subnet-0123abcd", "subnet-4567abcd"], "private_endpoint": True}}

KINDS_ADDED = {
    0: {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "ServiceAccount",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
    },
    1: {"HorizontalPodAutoscaler", "PodDisruptionBudget"},
    2: {"CronJob"},
    # HTTPRoute only with a challenger variant or a gateway domain; the CI's admission policy.
    3: {"Role", "RoleBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"},
    4: {"Release", "ServiceMonitor", "PrometheusRule", "ConfigMap"},
}


def kinds(g) -> set[str]:
    return {r.type.rsplit(":", 1)[-1] for r in g.custom if r.type.startswith("kubernetes:")}


def k8s_objects(g, kind: str) -> list:
    return [r for r in g.custom if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}")]


def named(g, kind: str, name: str):
    found = [r for r in k8s_objects(g, kind) if r.inputs.get("metadata", {}).get("name") == name]
    assert len(found) == 1, f"{kind}/{name}: {[r.inputs.get('metadata', {}).get('name') for r in k8s_objects(g, kind)]}"
    return found[0]


def container_of(res) -> dict:
    spec = res.inputs["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"] if "jobTemplate" in spec else spec["template"]["spec"]
    return pod["containers"][0]


@pytest.mark.parametrize("level", range(5))
def test_kinds_per_level(level):
    expected = set().union(*(KINDS_ADDED[n] for n in range(level + 1)))
    assert kinds(graph(level, "dev", K8S)) == expected


def test_level0_namespace_quota_limits_default_deny_and_notebook():
    g = graph(0, "dev", K8S)
    ns = named(g, "Namespace", NS)
    labels = ns.inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["mlops-bp/environment"] == "dev" and ns.protect
    quota = named(g, "ResourceQuota", "environment-quota").inputs["spec"]["hard"]
    assert quota["limits.cpu"] == "16" and quota["requests.storage"] == "500Gi" and quota["pods"] == "50"
    assert named(g, "LimitRange", "container-defaults").inputs["spec"]["limits"][0]["type"] == "Container"
    deny = named(g, "NetworkPolicy", "default-deny").inputs["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    home = named(g, "PersistentVolumeClaim", "notebook-home")
    assert home.protect and home.inputs["spec"]["resources"]["requests"]["storage"] == "20Gi"
    lab = named(g, "Deployment", "notebook")
    volumes = lab.inputs["spec"]["template"]["spec"]["volumes"]
    assert {"name": "home", "persistentVolumeClaim": {"claimName": "notebook-home"}} in volumes
    assert "--MappingKernelManager.cull_idle_timeout=3600" in container_of(lab)["args"]
    env = {e["name"]: e["value"] for e in container_of(lab)["env"]}
    assert env["DATA_BUCKET"].startswith("fraud-detect-dev-data")
    # The notebook reaches AWS (S3, STS) and nothing else; nobody reaches it but port-forward.
    notebook_policy = named(g, "NetworkPolicy", "allow-notebook").inputs["spec"]
    assert notebook_policy["policyTypes"] == ["Egress"]
    assert [p["port"] for p in notebook_policy["egress"][0]["ports"]] == [443]


def test_level1_model_server_contract():
    g = graph(1, "dev", K8S)
    server = named(g, "Deployment", "model-server")
    c = container_of(server)
    assert c["image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-detect-dev:0.1.0"
    assert c["args"] == ["serve"] and c["ports"][0]["containerPort"] == 8080
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/ping", "port": 8080}
    assert "replicas" not in server.inputs["spec"]  # the autoscaler owns it
    hpa = named(g, "HorizontalPodAutoscaler", "model-server").inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 4)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert named(g, "PodDisruptionBudget", "model-server").inputs["spec"]["maxUnavailable"] == 1
    service = named(g, "Service", "model-server").inputs["spec"]
    assert service["type"] == "ClusterIP" and service["ports"][0]["port"] == 8080
    # Level 1 serves the model its image carries; without a gateway domain nothing is routed
    # to it, so no namespace is admitted (default deny) and endpoint_url is the Service.
    assert "initContainers" not in server.inputs["spec"]["template"]["spec"]
    assert not [r for r in k8s_objects(g, "NetworkPolicy") if r.inputs["metadata"]["name"] == "allow-model-server"]
    assert g.outputs["endpoint_url"] == f"http://model-server.{NS}.svc.cluster.local:8080"


def test_a_gateway_domain_routes_the_serving_paths_with_a_body_limit():
    g = graph(1, "dev", K8S, **overrides(kubernetes={"gateway": {"domain": "models.example.com"}}))
    assert g.outputs["endpoint_url"] == f"https://{NS}.models.example.com"
    route = named(g, "HTTPRoute", "model-server").inputs["spec"]
    assert route["hostnames"] == [f"{NS}.models.example.com"]
    paths = [m["path"] for m in route["rules"][0]["matches"]]
    assert paths == [{"type": "Exact", "value": "/invocations"}, {"type": "Exact", "value": "/ping"}]
    limit = named(g, "BackendTrafficPolicy", "model-server-body-limit").inputs["spec"]
    assert limit["requestBuffer"] == {"limit": "1024Ki"}
    env = {e["name"]: e["value"] for e in container_of(named(g, "Deployment", "model-server"))["env"]}
    assert int(env["MAX_REQUEST_BYTES"]) == 1024 * 1024
    ingress = named(g, "NetworkPolicy", "allow-model-server").inputs["spec"]["ingress"]
    selector = ingress[0]["from"][0]["namespaceSelector"]["matchExpressions"][0]
    assert selector["values"] == ["gateway-system"] and ingress[0]["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert not k8s_objects(g, "SecurityPolicy")


def test_gateway_jwt_authentication_is_an_option():
    gateway = {
        "domain": "models.example.com",
        "jwt_issuer": "https://idp.example.com",
        "jwks_uri": "https://idp.example.com/jwks",
    }
    g = graph(3, "prod", K8S, **overrides(kubernetes={"gateway": gateway}))
    policy = named(g, "SecurityPolicy", "model-server-authentication").inputs["spec"]
    assert policy["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "model-server"}]
    assert policy["jwt"]["providers"][0]["remoteJWKS"] == {"uri": "https://idp.example.com/jwks"}
    with pytest.raises(BlueprintError, match="jwt_issuer needs jwks_uri"):
        make_blueprint(3, K8S, kubernetes={"gateway": {"jwt_issuer": "https://idp.example.com"}})


def test_level2_training_cronjob_and_mlflow():
    g = graph(2, "dev", K8S, deployed=True)
    cron = named(g, "CronJob", "training")
    spec = cron.inputs["spec"]
    assert spec["schedule"] == "0 3 * * 1" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 2 * 3600
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    env = {e["name"]: e["value"] for e in container_of(cron)["env"]}
    assert env["MLFLOW_TRACKING_URI"] == f"http://mlflow.{NS}.svc.cluster.local:5000"
    assert env["METRIC_NAME"] == "accuracy" and container_of(cron)["args"] == ["train"]
    assert env["TRAINING_DATA_URI"].startswith("s3://fraud-detect-dev-data") and env["MODEL_NAME"] == "fraud-detect"
    # The images the deploy pinned: the training image for training, the serving one to serve.
    assert container_of(cron)["image"].endswith(":train-" + "0" * 40)
    server = named(g, "Deployment", "model-server").inputs["spec"]["template"]
    assert server["spec"]["containers"][0]["image"].endswith(":" + "0" * 40)
    # The model server loads the approved version from MLflow before it serves.
    [loader] = server["spec"]["initContainers"]
    loader_env = {e["name"]: e["value"] for e in loader["env"]}
    assert loader["args"] == ["load"] and loader_env["MODEL_ALIAS"] == "champion"
    assert loader_env["MLFLOW_TRACKING_URI"] == env["MLFLOW_TRACKING_URI"]
    assert server["metadata"]["labels"]["mlops-bp/tracking-client"] == "true"
    store = named(g, "PersistentVolumeClaim", "mlflow-store")
    assert store.protect
    mlflow = named(g, "Deployment", "mlflow")
    assert mlflow.inputs["spec"]["strategy"] == {"type": "Recreate"}
    command = container_of(mlflow)["command"]
    assert any(arg.startswith("--artifacts-destination=s3://fraud-detect-dev-artifacts") for arg in command)
    assert "--backend-store-uri=sqlite:////mlflow/store/mlflow.db" in command
    # Only tracking clients (notebook, training) reach MLflow.
    rule = named(g, "NetworkPolicy", "allow-mlflow").inputs["spec"]["ingress"][0]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"mlops-bp/tracking-client": "true"}}}]
    notebook_labels = named(g, "Deployment", "notebook").inputs["spec"]["template"]["metadata"]["labels"]
    assert notebook_labels["mlops-bp/tracking-client"] == "true"


def test_mlflow_postgres_option_reads_the_uri_from_a_secret_file():
    g = graph(2, "dev", K8S, **overrides(kubernetes={"tracking_store": "postgres", "postgres_secret": "db-uri"}))
    assert [r.inputs["metadata"]["name"] for r in k8s_objects(g, "PersistentVolumeClaim")] == ["notebook-home"]
    mlflow = named(g, "Deployment", "mlflow")
    pod = mlflow.inputs["spec"]["template"]["spec"]
    assert {"name": "store", "secret": {"secretName": "db-uri", "defaultMode": 0o400}} in pod["volumes"]
    assert "$(cat /mlflow/store/uri)" in container_of(mlflow)["command"][2]
    assert not any("valueFrom" in e for e in container_of(mlflow)["env"])
    egress_ports = [
        p["port"] for rule in named(g, "NetworkPolicy", "allow-mlflow").inputs["spec"]["egress"] for p in rule["ports"]
    ]
    assert 5432 in egress_ports


# A challenger is opt-in: a second variant (the default is one model server).
CANARY = [{"name": "blue", "weight": 0.9}, {"name": "green", "weight": 0.1}]


def test_level3_one_model_server_by_default():
    g = graph(3, "prod", K8S)
    assert [
        r.inputs["metadata"]["name"]
        for r in k8s_objects(g, "Deployment")
        if "model-server" in r.inputs["metadata"]["name"]
    ] == ["model-server"]
    assert not k8s_objects(g, "HTTPRoute")


def test_level3_canary_variants_behind_weighted_route():
    g = graph(3, "prod", K8S, **overrides(serving={"variants": CANARY}))
    assert named(g, "Namespace", "fraud-detect-prod")
    # The stable variant is the Deployment of the levels below; the canary is added beside it.
    assert named(g, "Deployment", "model-server") and named(g, "Deployment", "model-server-green")
    route = named(g, "HTTPRoute", "model-server").inputs["spec"]
    assert route["parentRefs"] == [{"name": "mlops-gateway", "namespace": "gateway-system"}]
    weights = {b["name"]: b["weight"] for b in route["rules"][0]["backendRefs"]}
    assert weights == {"model-server-blue": 90, "model-server-green": 10}
    # Each canary variant serves the version its own alias names.
    green = named(g, "Deployment", "model-server-green").inputs["spec"]["template"]["spec"]
    assert {e["name"]: e["value"] for e in green["initContainers"][0]["env"]}["MODEL_ALIAS"] == "green"
    blue = named(g, "Service", "model-server-blue").inputs["spec"]["selector"]
    assert blue["app.kubernetes.io/name"] == "model-server"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_level3_environments_get_their_own_namespace(env):
    g = graph(3, env, K8S)
    assert {r.inputs["metadata"]["name"] for r in k8s_objects(g, "Namespace")} == {f"fraud-detect-{env}"}
    for res in g.custom:
        namespace = res.inputs.get("metadata", {}).get("namespace") if res.type.startswith("kubernetes:") else None
        assert namespace in (None, f"fraud-detect-{env}")


def test_level3_ci_rbac_is_limited_to_its_namespace():
    g = graph(3, "staging", K8S)
    role = named(g, "Role", "ci-deploy")
    assert role.inputs["metadata"]["namespace"] == "fraud-detect-staging"
    assert not k8s_objects(g, "ClusterRole") and not k8s_objects(g, "ClusterRoleBinding")
    for rule in role.inputs["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert "secrets" not in rule["resources"]
    binding = named(g, "RoleBinding", "ci-deploy").inputs
    assert binding["subjects"] == [
        {"kind": "Group", "name": "mlops-bp:fraud-detect-staging:deploy", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert len(role.inputs["rules"]) == len(DEPLOY_RULES)
    ci_policy = json.loads(g.one("aws:iam/rolePolicy:RolePolicy", "fraud-detect-staging-ci").inputs["policy"])
    describe = [s for s in ci_policy["Statement"] if s.get("Sid") == "DescribeCluster"]
    assert describe[0]["Resource"] == "arn:aws:eks:us-east-1:123456789012:cluster/fraud-detect"


def test_kserve_option_uses_inference_service_canary():
    g = graph(3, "prod", K8S, **overrides(kubernetes={"serving": "kserve"}, serving={"variants": CANARY}))
    assert not [r for r in k8s_objects(g, "Deployment") if "model-server" in r.inputs["metadata"]["name"]]
    isvc = named(g, "InferenceService", "model-server").inputs
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = isvc["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/ping"
    assert predictor["automountServiceAccountToken"] is False
    selector = named(g, "Service", "model-server").inputs["spec"]["selector"]
    assert selector == {"serving.kserve.io/inferenceservice": "model-server"}


def test_kserve_canary_needs_two_variants():
    three = [{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.3}, {"name": "c", "weight": 0.2}]
    with pytest.raises(BlueprintError, match=r"serving.variants: a KServe canary takes exactly two"):
        make_blueprint(3, K8S, kubernetes={"serving": "kserve"}, serving={"variants": three})


def test_level4_monitoring_stack_alerts_dashboard_and_drift_retraining():
    g = graph(4, "dev", K8S)
    release = g.one("kubernetes:helm.sh/v3:Release").inputs
    assert release["chart"] == KUBE_PROMETHEUS_CHART and release["version"] == "69.2.3"
    assert release["repositoryOpts"] == {"repo": "https://prometheus-community.github.io/helm-charts"}
    assert release["values"]["prometheus"]["prometheusSpec"]["serviceMonitorSelectorNilUsesHelmValues"] is False
    monitor = named(g, "ServiceMonitor", "model-server").inputs["spec"]
    assert monitor["endpoints"][0]["path"] == "/metrics"
    service_labels = named(g, "Service", "model-server").inputs["metadata"]["labels"]
    assert monitor["selector"]["matchLabels"].items() <= service_labels.items()
    rules = named(g, "PrometheusRule", "model-server").inputs["spec"]["groups"][0]["rules"]
    by_alert = {r["alert"]: r["expr"] for r in rules}
    assert set(by_alert) == {"ModelLatencyHigh", "ModelServerErrors", "ModelDrift"}
    assert by_alert["ModelLatencyHigh"].endswith("> 1000") and by_alert["ModelServerErrors"].endswith(">= 5")
    assert by_alert["ModelDrift"] == f'max(model_drift_share{{namespace="{NS}"}}) > 0.2'
    dashboard = named(g, "ConfigMap", "model-server-dashboard").inputs
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    titles = [p["title"] for p in json.loads(dashboard["data"]["model-server.json"])["panels"]]
    assert titles == ["Invocations per second", "Average latency", "Failed requests per second", "Feature drift share"]
    drift = named(g, "CronJob", "drift-check")
    assert drift.inputs["spec"]["schedule"] == "0 0 * * *"  # daily by default
    env = {e["name"]: e["value"] for e in container_of(drift)["env"]}
    assert env["DRIFT_THRESHOLD"] == "0.2" and env["TRAINING_CRONJOB"] == "training"
    assert env["CAPTURE_S3_URI"].endswith("/datacapture/dev/") and env["MODEL_ALIAS"] == "champion"
    assert (env["DRIFT_MIN_ROWS"], env["DRIFT_MIN_REQUESTS"], env["DRIFT_WINDOW_HOURS"]) == ("100", "20", "24")
    assert container_of(drift)["image"] == container_of(named(g, "CronJob", "training"))["image"]
    assert drift.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    script = named(g, "ConfigMap", "drift-check-script").inputs["data"]["drift_check.py"]
    assert "def run(" in script
    role = named(g, "Role", "drift-check").inputs["rules"]
    assert role == [
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "resourceNames": ["training"], "verbs": ["get"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "create"]},
    ]
    # Data capture: the model server may only put objects under its capture prefix.
    policy = json.loads(g.one("aws:iam/rolePolicy:RolePolicy", "model-server-identity").inputs["policy"])
    put = [s for s in policy["Statement"] if s["Action"] == "s3:PutObject"][0]
    assert put["Resource"].endswith("/datacapture/dev/*")


def test_cluster_wide_monitoring_is_owned_by_the_primary_environment():
    assert len(graph(4, "dev", K8S).of_type("kubernetes:helm.sh/v3:Release")) == 1
    staging = graph(4, "staging", K8S)
    assert staging.of_type("kubernetes:helm.sh/v3:Release") == []
    assert named(staging, "ServiceMonitor", "model-server")


def test_every_kubernetes_resource_uses_the_explicit_provider():
    for level in range(5):
        g = graph(level, "dev", K8S)
        provider = g.one("pulumi:providers:kubernetes")
        for res in g.custom:
            if res.type.startswith("kubernetes:"):
                assert res.provider.startswith(provider.urn), f"{res.urn} uses {res.provider!r}"


def test_existing_cluster_provider_takes_kubeconfig_and_context():
    g = graph(
        0,
        "dev",
        K8S,
        **overrides(kubernetes={"cluster": {"kubeconfig": "/home/me/.kube/config", "context": "prod-eks"}}),
    )
    provider = g.one("pulumi:providers:kubernetes").inputs
    assert provider["kubeconfig"] == "/home/me/.kube/config" and provider["context"] == "prod-eks"
    assert g.of_type("aws:eks/cluster:Cluster") == []


def test_irsa_role_per_workload_trusts_only_its_service_account():
    g = graph(4, "dev", K8S)
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/MOCKFRAUD-DETECT"
    roles = {r.name: r for r in g.of_type("aws:iam/role:Role") if "-identity-" in r.name}
    assert {name.removeprefix("fraud-detect-dev-").removesuffix("-identity-role") for name in roles} == {
        "notebook",
        "model-server",
        "mlflow",
        "training",
        "drift-check",
    }
    for name, role in roles.items():
        workload = name.removeprefix("fraud-detect-dev-").removesuffix("-identity-role")
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust == [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{NS}:{workload}",
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ]
        account = named(g, "ServiceAccount", workload).inputs
        assert account["metadata"]["annotations"] == {
            "eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{name}"
        }
        assert account["automountServiceAccountToken"] is False
    # The drift check reads the captured traffic and nothing else.
    drift = json.loads(g.one("aws:iam/rolePolicy:RolePolicy", "drift-check-identity").inputs["policy"])
    reads = [s for s in drift["Statement"] if s["Action"] == "s3:GetObject"]
    assert len(reads) == 1 and reads[0]["Resource"].endswith("/datacapture/dev/*")


def test_irsa_policies_are_scoped_to_the_buckets_each_workload_needs():
    g = graph(2, "dev", K8S)

    def resources_of(workload: str) -> set[str]:
        doc = json.loads(g.one("aws:iam/rolePolicy:RolePolicy", f"{workload}-identity").inputs["policy"])
        found = set()
        for st in doc["Statement"]:
            found |= set(st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
        return found

    mlflow = resources_of("mlflow")
    assert not any("-data-" in r for r in mlflow) and any("-artifacts-" in r for r in mlflow)
    training = json.loads(g.one("aws:iam/rolePolicy:RolePolicy", "training-identity").inputs["policy"])
    data_writes = [
        s for s in training["Statement"] if "s3:PutObject" in s["Action"] and any("-data-" in r for r in s["Resource"])
    ]
    assert data_writes == []


def test_created_eks_cluster():
    g = graph(4, "dev", K8S, **overrides(kubernetes=EKS))
    cluster = g.one("aws:eks/cluster:Cluster")
    assert cluster.protect
    inputs = cluster.inputs
    assert inputs["name"] == "fraud-detect" and inputs["version"] == "1.31"
    assert inputs["vpcConfig"]["subnetIds"] == ["subnet-0123abcd", "subnet-4567abcd"]
    assert inputs["vpcConfig"]["endpointPrivateAccess"] is True and inputs["vpcConfig"]["endpointPublicAccess"] is False
    assert set(inputs["enabledClusterLogTypes"]) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert inputs["encryptionConfig"]["resources"] == ["secrets"]
    assert inputs["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    logs = g.one("aws:cloudwatch/logGroup:LogGroup")
    assert logs.inputs["name"] == "/aws/eks/fraud-detect/cluster" and logs.protect
    nodes = g.one("aws:eks/nodeGroup:NodeGroup").inputs
    assert nodes["instanceTypes"] == ["m5.large"]
    assert nodes["scalingConfig"] == {"minSize": 1, "desiredSize": 2, "maxSize": 4}
    oidc = g.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "eks-oidc").inputs
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"] and oidc["url"].startswith("https://oidc.eks.")
    # The node role has node permissions only: no inline policy, no bucket access.
    node_attachments = {
        r.inputs["policyArn"].rsplit("/", 1)[-1]
        for r in g.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if "-node-" in r.name
    }
    assert node_attachments == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
    }
    assert not [r for r in g.of_type("aws:iam/rolePolicy:RolePolicy") if "node" in r.name]
    provider = g.one("pulumi:providers:kubernetes").inputs
    kubeconfig = json.loads(provider["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "fraud-detect"]
    entry = g.one("aws:eks/accessEntry:AccessEntry").inputs
    assert entry["kubernetesGroups"] == ["mlops-bp:fraud-detect-dev:deploy"] and entry["clusterName"] == "fraud-detect"


def test_other_environments_reach_the_cluster_the_primary_one_created():
    g = graph(3, "staging", K8S, **overrides(kubernetes=EKS))
    assert g.of_type("aws:eks/cluster:Cluster") == []
    kubeconfig = json.loads(g.one("pulumi:providers:kubernetes").inputs["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://fraud-detect.eks.us-east-1.amazonaws.com"


def test_cluster_needs_two_subnets():
    with pytest.raises(BlueprintError, match="kubernetes.cluster.subnet_ids"):
        make_blueprint(0, K8S, kubernetes={"cluster": {"create": True}})
    with pytest.raises(Exception, match="two availability zones"):
        plan(make_blueprint(0, K8S, kubernetes={"cluster": {"create": True, "subnet_ids": ["subnet-0123abcd"]}}))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"images": {"notebook": "quay.io/jupyter/scipy-notebook"}}, "kubernetes.images.notebook"),
        ({"images": {"tracking": "ghcr.io/mlflow/mlflow:latest"}}, "kubernetes.images.tracking"),
        (
            {
                "resources": {
                    "training": {
                        "cpu_request": "lots",
                        "cpu_limit": "1",
                        "memory_request": "1Gi",
                        "memory_limit": "1Gi",
                    }
                }
            },
            "kubernetes.resources.training.cpu_request",
        ),
        ({"cluster": {"min_size": 3, "desired_size": 2}}, "kubernetes.cluster"),
        ({"serving_mode": "kserve"}, "kubernetes.serving_mode"),
    ],
)
def test_bad_kubernetes_settings_name_the_field(settings, field):
    with pytest.raises(BlueprintError, match=field.replace(".", r"\.")):
        make_blueprint(1, K8S, kubernetes=settings)


def test_a_blueprint_written_before_the_drift_check_ran_in_the_training_image_still_loads():
    """mlops-bp.yaml files of earlier versions name `kubernetes.images.drift_check`: accepted,
    ignored, and gone from the file the next time mlops-bp writes it."""
    from mlops_bp.blueprints import blueprint_from_data

    old = {
        "name": "x-team",
        "level": 4,
        "platform": "kubernetes",
        "kubernetes": {"images": {"drift_check": "python:3.11"}},
    }
    assert "drift_check" not in blueprint_from_data(old).model_dump(mode="json")["kubernetes"]["images"]
