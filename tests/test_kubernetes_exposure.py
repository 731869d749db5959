"""The exposure rules of the Kubernetes platform, asserted on every graph (each level and
environment, day one and deployed, and the serving shapes: canary, KServe, a gateway domain with
JWT authentication): the request body limit in the app and at the gateway, /metrics for
Prometheus only, NetworkPolicy peers narrowed to the namespaces that need each port, and CI's
RBAC limits, whose admission policy (CEL) is evaluated on the stack's own objects and on
attempts to escalate."""

from __future__ import annotations

import copy
from functools import cache

import celpy
import pytest

from mlops_bp.stacks.graph import ResourceGraph
from mlops_bp.stacks.kubernetes.manifests import manifests
from mlops_bp.stacks.kubernetes.monitoring import MONITORING_NAMESPACE
from mlops_bp.stacks.kubernetes.rbac import DEPLOY_RULES
from mlops_bp.stacks.kubernetes.serving import KNATIVE_NAMESPACES, MAX_REQUEST_BYTES, MODEL_PORT, ROUTED_PATHS

from .graphs import LEVEL_ENVS, graph, overrides

CANARY = [{"name": "blue", "weight": 0.9}, {"name": "green", "weight": 0.1}]
GATEWAY = {
    "domain": "models.example.com",
    "jwt_issuer": "https://idp.example.com",
    "jwks_uri": "https://idp.example.com/k",
}
SHAPES = {
    "default": {},
    "canary": overrides(serving={"variants": CANARY}),
    "kserve": overrides(kubernetes={"serving": "kserve"}, serving={"variants": CANARY}),
    "gateway": overrides(kubernetes={"gateway": GATEWAY}),
    "other-gateway": overrides(kubernetes={"gateway": {"domain": "models.example.com", "envoy_gateway": False}}),
}
CASES = [
    (level, env, deployed, shape)
    for level, env in LEVEL_ENVS
    for deployed in (False, True)
    for shape in SHAPES
    if shape == "default" or (level >= 3 and deployed)
]


@cache
def _objects(level: int, env: str, deployed: bool, shape: str) -> tuple[ResourceGraph, list[dict]]:
    g = graph(level, env, "kubernetes", deployed, **SHAPES[shape])
    return g, manifests(g)


@pytest.fixture(params=CASES, ids=["-".join(map(str, c)) for c in CASES])
def case(request):
    level, env, deployed, shape = request.param
    g, objs = _objects(level, env, deployed, shape)
    return {"level": level, "env": env, "shape": shape, "graph": g, "objects": objs}


def _of(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def _servers(objs: list[dict]) -> list[dict]:
    """The containers of every model-server pod."""
    found = []
    for obj in objs:
        if (
            obj["kind"] == "Deployment"
            and obj["metadata"]["labels"].get("app.kubernetes.io/component") == "model-server"
        ):
            found += obj["spec"]["template"]["spec"]["containers"]
        elif obj["kind"] == "InferenceService":
            found += obj["spec"]["predictor"]["containers"]
    return found


def test_the_app_and_the_gateway_limit_the_request_body(case):
    objs = case["objects"]
    servers = _servers(objs)
    assert servers or case["level"] == 0
    for c in servers:
        assert {e["name"]: e["value"] for e in c["env"]}["MAX_REQUEST_BYTES"] == str(MAX_REQUEST_BYTES)
    limits = {
        p["spec"]["targetRefs"][0]["name"]: p["spec"]["requestBuffer"]["limit"]
        for p in _of(objs, "BackendTrafficPolicy")
    }
    for route in _of(objs, "HTTPRoute"):
        if case["shape"] == "other-gateway":
            assert limits == {}  # the README says to set it on that gateway
        else:
            assert limits[route["metadata"]["name"]] == f"{MAX_REQUEST_BYTES // 1024}Ki"


def test_only_the_serving_paths_are_routed(case):
    for route in _of(case["objects"], "HTTPRoute"):
        for rule in route["spec"]["rules"]:
            assert [m["path"] for m in rule["matches"]] == [{"type": "Exact", "value": p} for p in ROUTED_PATHS]
            assert all(b["name"].startswith("model-server") for b in rule["backendRefs"])
    for monitor in _of(case["objects"], "ServiceMonitor"):
        assert [e["path"] for e in monitor["spec"]["endpoints"]] == ["/metrics"]


def _peer_namespaces(peer: dict) -> set[str]:
    """The namespaces an ingress peer admits; fails on a peer that admits every namespace."""
    selector = peer["namespaceSelector"]
    assert selector, "an empty namespaceSelector admits every namespace"
    names = set()
    for expression in selector.get("matchExpressions", []):
        assert expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "In"
        names |= set(expression["values"])
    if "matchLabels" in selector:
        names.add(selector["matchLabels"]["kubernetes.io/metadata.name"])
    assert names
    return names


def test_network_policies_admit_only_the_namespaces_that_need_each_port(case):
    blueprint_features = case["level"]
    admitted: dict[int, set[str]] = {}
    for policy in _of(case["objects"], "NetworkPolicy"):
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from"), f"{policy['metadata']['name']}: an ingress rule without peers admits everyone"
            for peer in rule["from"]:
                assert "ipBlock" not in peer, policy["metadata"]["name"]
                # A bare podSelector is the policy's own namespace.
                names = _peer_namespaces(peer) if "namespaceSelector" in peer else {case["env"]}
                for port in rule["ports"]:
                    admitted.setdefault(port["port"], set()).update(names)
    expected: set[str] = set()
    routes = _of(case["objects"], "HTTPRoute")
    if routes:
        expected.add(routes[0]["spec"]["parentRefs"][0]["namespace"])
    if case["shape"] == "kserve":
        expected |= {*KNATIVE_NAMESPACES, "gateway-system"}
    if blueprint_features >= 4:
        expected.add(MONITORING_NAMESPACE)  # Prometheus scrapes /metrics
    assert admitted.get(MODEL_PORT, set()) == expected
    # Everything else is admitted from the policy's own namespace only (MLflow's clients).
    assert all(names == {case["env"]} for port, names in admitted.items() if port != MODEL_PORT)


# -- CI RBAC ---------------------------------------------------------------------------------


def _cel(expression: str, activation: dict):
    """The value of a CEL expression; an evaluation error is returned as such (CEL's own)."""
    env = celpy.Environment()
    try:
        return env.program(env.compile(expression)).evaluate(activation)
    except celpy.CELEvalError as exc:
        return exc


def _holds(expression: str, activation: dict) -> bool:
    value = _cel(expression, activation)
    return isinstance(value, celpy.celtypes.BoolType) and bool(value)


def admission(policy: dict, obj: dict, groups: list[str]) -> list[str]:
    """What the ValidatingAdmissionPolicy says about `obj` from a user in `groups`: the messages
    of the validations it fails (none: admitted). An expression that errors fails, as the
    policy's failurePolicy Fail makes it."""
    spec = policy["spec"]
    request = celpy.json_to_cel({"userInfo": {"username": "ci", "groups": groups}})
    subject = celpy.json_to_cel(obj)
    if not all(_holds(c["expression"], {"request": request, "object": subject}) for c in spec["matchConditions"]):
        return []
    variables = celpy.celtypes.MapType({})
    for variable in spec["variables"]:
        value = _cel(variable["expression"], {"object": subject, "variables": variables})
        if not isinstance(value, celpy.CELEvalError):
            variables = celpy.celtypes.MapType({**variables, celpy.celtypes.StringType(variable["name"]): value})
    activation = {"object": subject, "request": request, "variables": variables}
    return [v["message"] for v in spec["validations"] if not _holds(v["expression"], activation)]


RBAC_CASES = [c for c in CASES if c[0] >= 3]


@pytest.mark.parametrize("level,env,deployed,shape", RBAC_CASES, ids=["-".join(map(str, c)) for c in RBAC_CASES])
def test_ci_rbac_is_limited_and_cannot_escalate(level, env, deployed, shape):
    g, objs = _objects(level, env, deployed, shape)
    [role] = [o for o in _of(objs, "Role") if o["metadata"]["name"] == "ci-deploy"]
    assert role["rules"] == [dict(r) for r in DEPLOY_RULES]
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert not {"secrets", "roles", "rolebindings", "serviceaccounts", "pods/exec"} & set(rule["resources"])
    [binding] = [o for o in _of(objs, "RoleBinding") if o["metadata"]["name"] == "ci-deploy"]
    group = binding["subjects"][0]["name"]
    [policy] = _of(objs, "ValidatingAdmissionPolicy")
    [policy_binding] = _of(objs, "ValidatingAdmissionPolicyBinding")
    assert policy_binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert policy_binding["spec"]["validationActions"] == ["Deny"]
    namespace = role["metadata"]["namespace"]
    selector = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    assert policy["spec"]["matchConstraints"]["namespaceSelector"] == selector
    assert policy_binding["spec"]["matchResources"]["namespaceSelector"] == selector
    assert policy["spec"]["failurePolicy"] == "Fail"

    # What CI changes at a deploy is admitted: the model server, the CronJobs, a training Job
    # made from the CronJob (the train workflow), the route.
    managed = [
        o
        for o in objs
        if (o["kind"] == "Deployment" and o["metadata"]["name"].startswith("model-server"))
        or o["kind"] in {"CronJob", "HTTPRoute", "InferenceService"}
    ]
    assert managed
    cronjobs = {o["metadata"]["name"]: o for o in _of(objs, "CronJob")}
    if "training" in cronjobs:
        managed.append(
            {
                "kind": "Job",
                "metadata": {"name": "train-1"},
                "spec": cronjobs["training"]["spec"]["jobTemplate"]["spec"],
            }
        )
    for obj in managed:
        assert admission(policy, obj, [group, "system:authenticated"]) == [], obj["metadata"]["name"]

    # What would escalate is not.
    others = {o["metadata"]["name"]: o for o in _of(objs, "Deployment")}
    assert admission(policy, others["notebook"], [group]), "a Deployment under the notebook's identity"
    if "mlflow" in others:
        assert admission(policy, others["mlflow"], [group]), "a Deployment under MLflow's identity"
    if "training" in cronjobs:
        job = {
            "kind": "Job",
            "metadata": {"name": "x"},
            "spec": copy.deepcopy(cronjobs["training"]["spec"]["jobTemplate"]["spec"]),
        }
        pod = job["spec"]["template"]["spec"]
        assert admission(policy, job, [group]) == []
        for service_account in ("mlflow", "notebook", "drift-check", "default"):
            pod["serviceAccountName"] = service_account
            assert any("Job pods only as training" in m for m in admission(policy, job, [group])), service_account
        pod["serviceAccountName"] = "training"
        pod["containers"][0]["image"] = "docker.io/attacker/tool:1"
        assert any("only" in m and "images" in m for m in admission(policy, job, [group]))
        pod["containers"][0]["image"] = cronjobs["training"]["spec"]["jobTemplate"]["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        pod["initContainers"] = [{**pod["containers"][0], "name": "sidecar", "image": "busybox:1.36"}]
        assert admission(policy, job, [group]), "an init container with a foreign image"
        del pod["initContainers"]
        pod["automountServiceAccountToken"] = True
        assert any("API token" in m for m in admission(policy, job, [group]))
        # Someone else (an admin, a controller) is not bound by it.
        assert admission(policy, job, ["system:masters"]) == []
    for route in _of(objs, "HTTPRoute"):
        hijack = copy.deepcopy(route)
        hijack["spec"]["rules"][0]["backendRefs"] = [{"name": "mlflow", "port": 5000}]
        assert any("route only" in m for m in admission(policy, hijack, [group]))
