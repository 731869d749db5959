"""ECR images on the moto server, for tests that promote them.

moto lacks ECR's GetDownloadUrlForLayer (NotImplementedError). `BlobServer` stands in for the
presigned S3 URLs ECR answers it with: a small HTTP server on 127.0.0.1 holding the blobs
`push_image` uploaded, and `serve_layer_urls` answers that one call on a boto3 client with its
URLs (a botocore before-call hook). Every other ECR call goes over HTTP to moto."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.awsrequest import AWSResponse

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass
class BlobServer:
    data: dict[str, bytes] = field(default_factory=dict)
    port: int = 0

    def url(self, digest: str) -> str:
        return f"http://127.0.0.1:{self.port}/{digest}"


@contextmanager
def blob_server() -> Iterator[BlobServer]:
    store = BlobServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = store.data.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    store.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield store
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def serve_layer_urls(ecr: Any, blobs: BlobServer) -> None:
    """Answer `ecr`'s GetDownloadUrlForLayer calls with the blob server's URLs."""

    def download_url(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, str]]:
        digest = json.loads(params["body"])["layerDigest"]
        url = blobs.url(digest)
        return AWSResponse(url, 200, {}, None), {"downloadUrl": url, "layerDigest": digest}

    ecr.meta.events.register("before-call.ecr.GetDownloadUrlForLayer", download_url)


def _upload(ecr: Any, repository: str, blob: bytes) -> str:
    upload = ecr.initiate_layer_upload(repositoryName=repository)
    ecr.upload_layer_part(
        repositoryName=repository,
        uploadId=upload["uploadId"],
        partFirstByte=0,
        partLastByte=len(blob) - 1,
        layerPartBlob=blob,
    )
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    ecr.complete_layer_upload(repositoryName=repository, uploadId=upload["uploadId"], layerDigests=[digest])
    return digest


def push_image(ecr: Any, blobs: BlobServer, repository: str, tags: list[str], payload: bytes = b"layer") -> str:
    """Push a one-layer image under `tags`, as `docker push` would; return its digest."""
    layer, config = payload * 1000, b'{"architecture": "amd64", "os": "linux"}'
    for blob in (layer, config):
        blobs.data[_upload(ecr, repository, blob)] = blob
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                    "size": len(layer),
                }
            ],
        }
    )
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    for tag in tags:
        ecr.put_image(
            repositoryName=repository,
            imageManifest=manifest,
            imageManifestMediaType=MANIFEST_TYPE,
            imageTag=tag,
            imageDigest=digest,
        )
    return digest
