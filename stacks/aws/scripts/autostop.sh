#!/bin/bash
# SageMaker notebook lifecycle (on start): stop the instance after IDLE_MINUTES without
# kernel activity, so an idle notebook costs nothing. Installed by mlops-bp.
set -euo pipefail
IDLE_MINUTES="__IDLE_MINUTES__"
cat > /usr/local/bin/mlops-bp-autostop.py <<'PY'
import json, os, ssl, subprocess, sys, urllib.request
from datetime import datetime, timezone

idle = int(sys.argv[1]) * 60
ctx = ssl._create_unverified_context()  # the local Jupyter server uses a self-signed cert
with urllib.request.urlopen("https://localhost:8443/api/sessions", context=ctx, timeout=10) as r:
    sessions = json.load(r)
now = datetime.now(timezone.utc)
for s in sessions:
    last = datetime.fromisoformat(s["kernel"]["last_activity"].replace("Z", "+00:00"))
    if s["kernel"]["execution_state"] == "busy" or (now - last).total_seconds() < idle:
        sys.exit(0)
if not sessions:
    uptime = float(open("/proc/uptime").read().split()[0])
    if uptime < idle:
        sys.exit(0)
meta = json.load(open("/opt/ml/metadata/resource-metadata.json"))
subprocess.run(["aws", "sagemaker", "stop-notebook-instance", "--notebook-instance-name", meta["ResourceName"]], check=True)
PY
echo "*/5 * * * * root /usr/bin/python3 /usr/local/bin/mlops-bp-autostop.py ${IDLE_MINUTES} >> /var/log/mlops-bp-autostop.log 2>&1" > /etc/cron.d/mlops-bp-autostop
