#!/usr/bin/env python3
"""Submit a Harmonium job and follow it, from Python, with grpcio and nothing of Harmonium's.

    python3 submit_job.py COORDINATOR_HOST:PORT '{"model": "ae", "epochs": 2}' [JOB_ID]

The job is a JSON object of the options a job file takes; the coordinator fills in the defaults
and answers a bad option with INVALID_ARGUMENT and the CLI's message. The stubs are generated
from the .proto at start-up (grpc_tools.protoc), so the script needs only the proto file, found
beside this repository's docs/ or named by HARMONIUM_PROTO_DIR. Exit code 0 when the job
succeeded, 1 when it failed or was cancelled, 2 when the coordinator refused it.

Credentials as every Harmonium process takes them: HARMONIUM_TLS_DIR names a directory with
ca.crt, tls.crt and tls.key (mutual TLS; the server's certificate is checked against the name
"harmonium", which every Harmonium certificate carries); the token is HARMONIUM_TOKEN, else the
file HARMONIUM_TOKEN_FILE, else DIR/token. Without HARMONIUM_TLS_DIR the channel is plaintext.
"""
import json
import os
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc

PROTO_DIR = os.environ.get(
    "HARMONIUM_PROTO_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto"),
)
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def load_stubs():
    """Generates coordinator_pb2 / coordinator_pb2_grpc into a temporary directory and imports them."""
    out = tempfile.mkdtemp(prefix="harmonium-stubs-")
    status = protoc.main(
        [
            "protoc",
            f"-I{PROTO_DIR}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            "harmonium/v1/coordinator.proto",
        ]
    )
    if status != 0:
        sys.exit(f"protoc failed on {PROTO_DIR}/harmonium/v1/coordinator.proto")
    sys.path.insert(0, out)
    from harmonium.v1 import coordinator_pb2, coordinator_pb2_grpc  # noqa: E402

    return coordinator_pb2, coordinator_pb2_grpc


def read(path):
    with open(path, "rb") as f:
        return f.read()


def channel_for(address):
    """A channel with mutual TLS when HARMONIUM_TLS_DIR is set, and the token to send (or None)."""
    tls_dir = os.environ.get("HARMONIUM_TLS_DIR", "")
    token = os.environ.get("HARMONIUM_TOKEN", "")
    token_file = os.environ.get("HARMONIUM_TOKEN_FILE", "") or (
        os.path.join(tls_dir, "token") if tls_dir else ""
    )
    if not token and token_file and os.path.exists(token_file):
        token = read(token_file).decode().strip()
    if not tls_dir:
        return grpc.insecure_channel(address), token or None
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(os.path.join(tls_dir, "ca.crt")),
        private_key=read(os.path.join(tls_dir, "tls.key")),
        certificate_chain=read(os.path.join(tls_dir, "tls.crt")),
    )
    options = [("grpc.ssl_target_name_override", "harmonium")]
    return grpc.secure_channel(address, creds, options), token or None


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    address, options = sys.argv[1], sys.argv[2]
    job_id = sys.argv[3] if len(sys.argv) == 4 else ""
    pb, rpc = load_stubs()
    channel, token = channel_for(address)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    with channel:
        stub = rpc.CoordinatorStub(channel)
        try:
            job = stub.SubmitJob(
                pb.SubmitJobRequest(config_json=options, job_id=job_id), timeout=10, metadata=metadata
            )
        except grpc.RpcError as err:
            print(f"refused: {err.code().name}: {err.details()}", file=sys.stderr)
            return 2
        print(f"submitted job {job.job_id} ({job.state}), out {job.out}")
        last = ""
        while True:
            status = stub.GetStatus(pb.StatusRequest(), timeout=10, metadata=metadata)
            job = next(j for j in status.jobs if j.job_id == job.job_id)
            line = f"{job.state} step {job.step}/{job.total_steps}"
            if line != last:
                print(f"job {job.job_id}: {line}")
                last = line
            if job.state in TERMINAL:
                if job.state != "SUCCEEDED":
                    print(f"job {job.job_id} {job.state}: {job.message}", file=sys.stderr)
                return 0 if job.state == "SUCCEEDED" else 1
            time.sleep(0.5)


if __name__ == "__main__":
    sys.exit(main())
