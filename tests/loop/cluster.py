"""A small local stand-in for the cluster, for the Kubernetes loop tier.

It plays Kubernetes' part and nothing of ours: a pod spec from the captured graph runs on this
machine with each volume a local directory (a ConfigMap volume holds the ConfigMap's files from
the graph), each container's command as the manifest says (or, when it names none, its image's
ENTRYPOINT from the repo's Dockerfile, through the repo's console scripts) and the manifest's
environment. In-cluster addresses the manifests name (a Service URL) are mapped to the local
servers standing in for them, and paths under a volume's mountPath to its local directory.
Nothing the graph says is restated here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mlops_bp.stacks.graph import ResourceGraph
from mlops_bp.stacks.kubernetes.manifests import manifests


def objects(graph: ResourceGraph, kind: str) -> dict[str, dict[str, Any]]:
    """The graph's Kubernetes objects of `kind` as manifests, by name."""
    return {o["metadata"]["name"]: o for o in manifests(graph) if o["kind"] == kind}


def pod_of(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec["template"]["spec"]


def env_of(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def console_script(repo: Path, dockerfile: str) -> list[str]:
    """The image's ENTRYPOINT (a console script of the repo's pyproject) as a command."""
    text = (repo / dockerfile).read_text(encoding="utf-8")
    entrypoint = json.loads(re.findall(r"^ENTRYPOINT (\[.*\])$", text, re.MULTILINE)[-1])
    scripts = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module, function = scripts[entrypoint[0]].split(":")
    return [sys.executable, "-c", f"import sys; from {module} import {function}; sys.exit({function}())"]


def dockerfile_of(image: str) -> str:
    """Which of the repo's images a manifest names: CI pushes `train-<sha>` from
    train.Dockerfile and `<sha>` from Dockerfile."""
    return "train.Dockerfile" if image.rsplit(":", 1)[-1].startswith("train-") else "Dockerfile"


@dataclass
class LocalPod:
    """One pod spec of the graph on this machine."""

    spec: dict[str, Any]
    repo: Path
    workdir: Path
    config_maps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # In-cluster URL -> local URL of the server standing in for it.
    services: Mapping[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.volumes: dict[str, Path] = {}
        for volume in self.spec.get("volumes", []):
            local = self.workdir / volume["name"]
            local.mkdir(parents=True, exist_ok=True)
            if "configMap" in volume:
                for name, text in self.config_maps[volume["configMap"]["name"]]["data"].items():
                    (local / name).write_text(text, encoding="utf-8")
            self.volumes[volume["name"]] = local

    def container(self, name: str) -> dict[str, Any]:
        found = [c for c in [*self.spec.get("initContainers", []), *self.spec["containers"]] if c["name"] == name]
        assert len(found) == 1, name
        return found[0]

    def _local(self, container: Mapping[str, Any], value: str) -> str:
        for mount in container.get("volumeMounts", []):
            value = value.replace(mount["mountPath"], str(self.volumes[mount["name"]]))
        for cluster_url, local_url in self.services.items():
            value = value.replace(cluster_url, local_url)
        return value

    def command(self, name: str) -> list[str]:
        container = self.container(name)
        if "command" in container:
            command = [self._local(container, a) for a in container["command"]]
            if command[0] == "python":
                command[0] = sys.executable
            elif command[0] != sys.executable:
                command[0] = str(Path(sys.executable).parent / command[0])
        else:
            command = console_script(self.repo, dockerfile_of(container["image"]))
        return [*command, *(self._local(container, a) for a in container.get("args", []))]

    def environment(self, name: str, extra: Mapping[str, str]) -> dict[str, str]:
        container = self.container(name)
        env = {key: self._local(container, value) for key, value in env_of(container).items()}
        # The image's PATH starts with its virtualenv's bin (gunicorn, the console scripts).
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "PATH": path, "PYTHONPATH": str(self.repo / "src"), **env, **extra}

    def run(self, name: str, extra_env: Mapping[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
        done = subprocess.run(
            self.command(name),
            cwd=self.repo,
            env=self.environment(name, extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.log.append(f"$ {name}\n{done.stdout}{done.stderr}")
        return done

    def start(self, name: str, extra_env: Mapping[str, str], arguments: list[str] | None = None) -> subprocess.Popen:
        """The container as a server, in a process group of its own (see stop_group)."""
        command = self.command(name) if arguments is None else arguments
        return subprocess.Popen(
            command,
            cwd=self.repo,
            env=self.environment(name, extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen) -> None:
    """Stop a server started by LocalPod.start and every process it started (MLflow runs its
    web server as a child): the process group it leads, politely, then for sure."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their leader
    process.wait()


@dataclass
class FakeKubernetesApi:
    """The API server for the drift check: the namespace's CronJobs (from the graph, with the
    uid the server would give them), its Jobs (none running), and the Jobs created."""

    namespace: str
    cronjobs: Mapping[str, dict[str, Any]]
    created: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self
        base = f"/apis/batch/v1/namespaces/{self.namespace}"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, body: dict, code: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                api.tokens.append(self.headers.get("Authorization", ""))
                path = self.path.split("?")[0]
                if path == f"{base}/jobs":
                    return self._send({"items": []})
                name = path.removeprefix(f"{base}/cronjobs/")
                if name in api.cronjobs:
                    cronjob = api.cronjobs[name]
                    return self._send({**cronjob, "metadata": {**cronjob["metadata"], "uid": f"uid-{name}"}})
                return self._send({"message": "not found"}, 404)

            def do_POST(self) -> None:  # noqa: N802
                api.tokens.append(self.headers.get("Authorization", ""))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.created.append(body)
                name = f"{body['metadata']['generateName']}{len(api.created)}"
                self._send({**body, "metadata": {**body["metadata"], "name": name}}, 201)

        return Handler

    @contextmanager
    def serving(self) -> Iterator[str]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
