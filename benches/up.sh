#!/usr/bin/env bash
# The whole cloud under `euca up` (issue 14, acceptance 4), release build, test hypervisor:
#  1. cold start: from `euca up` to its `cloud ready` line, on a first run (keys and the
#     administrator's credentials made) and on a restart of the same cloud;
#  2. RunInstances → `running` seen by DescribeInstances, p50 and p90, through the front door;
#  3. 10,000 instances on the one test NC (declared with `euca up --node-arg=--capacity=...`),
#     launched in batches of 256 (the most one RunInstances may ask for), until all run; then
#     DescribeInstances of all of them through the front door, p50 and p95 over 12 calls (until
#     the reply is in, and until boto3 has parsed it), the reply's size, and each component's
#     resident memory.
#
# Usage: benches/up.sh [LAUNCHES]   (default 20)
# Needs: cargo and the Python test clients (scripts/setup.sh: .venv with boto3).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
python=${EUCA_PYTHON:-$root/.venv/bin/python}

printf 'bench: building euca (release)\n' >&2
cargo build --quiet --release --bin euca --manifest-path "$root/Cargo.toml"
PYTHONPATH="$root/tests/py" exec "$python" "$root/benches/up.py" "$target/release/euca" "${1:-20}"
