#!/usr/bin/env bash
# Walrus benchmark (acceptance 2): PUTs a 1 GB object to a release build of `euca walrus`
# while sampling the server's resident memory from /proc (the peak must stay under 64 MB),
# then measures PUT and GET throughput beside nginx serving the same file from the same disk
# in the same run. Requests are made with curl (SigV4 for Walrus, plain for nginx).
#
# Usage: benches/walrus.sh            (WALRUS_BENCH_MB=N for another size)
# Needs: cargo, curl, nginx (scripts/setup.sh installs it) and python3.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
size_mb=${WALRUS_BENCH_MB:-1024}
rss_limit_kb=$((64 * 1024))

log() { printf 'bench: %s\n' "$*" >&2; }

command -v nginx >/dev/null || { log "nginx not found: run scripts/setup.sh"; exit 1; }
command -v curl >/dev/null || { log "curl not found"; exit 1; }

log "building euca (release)"
cargo build --quiet --release --bin euca --manifest-path "$root/Cargo.toml"

work=$(mktemp -d "${TMPDIR:-/tmp}/walrus-bench.XXXXXX")
walrus_pid= nginx_pid= sampler_pid=
cleanup() {
    for pid in $sampler_pid $nginx_pid $walrus_pid; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Walrus, with its data on the same file system as the file nginx serves.
mkdir -p "$work/data" "$work/www/up" "$work/nginx"
NO_COLOR=1 RUST_LOG=warn,walrus=info "$target/release/euca" walrus --listen 127.0.0.1:0 \
    --data "$work/data" --keys "$work/keys" >"$work/walrus.log" 2>&1 &
walrus_pid=$!
for _ in $(seq 100); do
    grep -qs 'walrus ready' "$work/walrus.log" && break
    sleep 0.1
done
url=$(sed -n 's/.*walrus ready.*url=\([^ ]*\).*/\1/p' "$work/walrus.log" | sed 's/\x1b\[[0-9;]*m//g')
[[ -n $url ]] || { cat "$work/walrus.log" >&2; log "walrus did not start"; exit 1; }
# shellcheck disable=SC1091
source "$work/data/admin-eucarc"
s3() { curl -sS --fail-with-body -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    --aws-sigv4 'aws:amz:us-east-1:s3' --user "$EC2_ACCESS_KEY:$EC2_SECRET_KEY" "$@"; }
s3 -X PUT "$url/bench" -o /dev/null

log "writing a $size_mb MB file"
object="$work/www/object"
dd if=/dev/urandom of="$object" bs=1M count="$size_mb" status=none
expected=$(sha256sum "$object" | cut -d' ' -f1)

# Resident memory of the server, sampled every 20 ms; the peak is kept in a file.
sample_rss() {
    local peak=0 rss
    while kill -0 "$walrus_pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$walrus_pid/status" 2>/dev/null || echo 0)
        ((rss > peak)) && peak=$rss && echo "$peak" >"$work/rss-peak"
        sleep 0.02
    done
}
rss_before=$(awk '/^VmRSS:/ {print $2}' "/proc/$walrus_pid/status")
echo "$rss_before" >"$work/rss-peak"
sample_rss &
sampler_pid=$!

log "PUT to Walrus"
walrus_put=$(s3 -T "$object" "$url/bench/object" -o /dev/null -w '%{speed_upload}')
sleep 0.1
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
rss_peak=$(cat "$work/rss-peak")

log "GET from Walrus"
walrus_get=$(s3 "$url/bench/object" -o /dev/null -w '%{speed_download}')
got=$(s3 "$url/bench/object" | sha256sum | cut -d' ' -f1)
[[ $got == "$expected" ]] || { log "Walrus returned other bytes"; exit 1; }

# nginx on a loopback port, serving $work/www and accepting PUTs under /up/.
port=$(free_port)
# As root, nginx's worker would run as nobody, who cannot read the private work directory.
worker_user=$(id -un)
cat >"$work/nginx/nginx.conf" <<EOF
user $worker_user;
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path $work/www/up;
    client_max_body_size 0;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
        location /up/ { dav_methods PUT; create_full_put_path on; }
    }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

log "PUT to nginx, GET from nginx"
nginx_put=$(curl -sS --fail-with-body -T "$object" "http://127.0.0.1:$port/up/object" -o /dev/null -w '%{speed_upload}')
nginx_get=$(curl -sS --fail-with-body "http://127.0.0.1:$port/object" -o /dev/null -w '%{speed_download}')

mbps() { awk -v b="$1" 'BEGIN { printf "%8.1f MB/s", b / 1048576 }'; }
printf '\nWalrus benchmark: %d MB object, loopback, same disk (%s)\n' "$size_mb" "$(df --output=source "$work" | tail -1)"
printf '  %-8s %-16s %-16s\n' "" "Walrus" "nginx"
printf '  %-8s %-16s %-16s\n' "PUT" "$(mbps "$walrus_put")" "$(mbps "$nginx_put")"
printf '  %-8s %-16s %-16s\n' "GET" "$(mbps "$walrus_get")" "$(mbps "$nginx_get")"
printf '  Walrus resident memory: %d KB at rest, peak %d KB during the PUT (limit %d KB)\n' \
    "$rss_before" "$rss_peak" "$rss_limit_kb"
if ((rss_peak >= rss_limit_kb)); then
    log "FAILED: the PUT took Walrus to $rss_peak KB"
    exit 1
fi
