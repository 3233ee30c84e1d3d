#!/usr/bin/env bash
# Node controller under hostile load (issue 17, findings 1 and 4), against a release build of
# `euca node` on the test hypervisor:
#  1. p50/p99 latency of a signed ncDescribeResource (zeep + xmlsec) with no other clients,
#     then with 200 connections that sent a POST's headers and stall its body;
#  2. the NC's resident size idle, at the peak of a flood of 64 concurrent 15 MB unsigned
#     messages (half with a declared length, half chunked), and after it.
#
# Usage: benches/nc_hostile.sh
# Needs: cargo and the Python test clients (scripts/setup.sh: .venv with zeep and xmlsec).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
python=${EUCA_PYTHON:-$root/.venv/bin/python}

log() { printf 'bench: %s\n' "$*" >&2; }

log "building euca (release)"
cargo build --quiet --release --bin euca --manifest-path "$root/Cargo.toml"

work=$(mktemp -d "${TMPDIR:-/tmp}/nc-bench.XXXXXX")
nc_pid=
cleanup() {
    [[ -n $nc_pid ]] && kill "$nc_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$target/release/euca" keys init "$work/keys" >/dev/null
cat >"$work/eucalyptus.conf" <<CONF
HYPERVISOR="test"
MAX_MEM="2048"
MAX_CORES="8"
MAX_DISK="11"
CONF
NO_COLOR=1 RUST_LOG=warn,node=info "$target/release/euca" node --config "$work/eucalyptus.conf" \
    --listen 127.0.0.1:0 --keys "$work/keys" --data "$work/data" >"$work/node.log" 2>&1 &
nc_pid=$!
for _ in $(seq 100); do
    grep -qs 'node controller ready' "$work/node.log" && break
    sleep 0.1
done
url=$(sed -n 's/.*node controller ready.*url=\([^ ]*\).*/\1/p' "$work/node.log")
[[ -n $url ]] || { cat "$work/node.log" >&2; log "the node did not start"; exit 1; }

"$python" "$root/benches/nc_hostile.py" "$url" "$work/keys" "$nc_pid" "$root/wsdl/eucalyptus_nc.wsdl"
