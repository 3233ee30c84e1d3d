#!/bin/sh
# euca2ools against our cloud, for describe-availability-zones, describe-images,
# run-instances, describe-instances and terminate-instances (issue 14, acceptance 2).
#
# euca2ools itself cannot run here: it is on neither PyPI nor Debian 12, and its source
# (3.4, the last) is Python 2 only, which Debian 12 does not have. So this script speaks its
# recorded wire format instead: the requests euca2ools 1.0 and 3.4.1 sent for the five
# commands (../shared/reference/captures), re-signed with a test user's keys as each version
# signs, against a cloud `euca up` starts here with the test hypervisor, and prints the
# answers as euca2ools prints them (tests/py/journey_euca2ools.py).
#
# Given EUCA2OOLS_SRC (a euca2ools source tree), it first installs its dependencies
# (requestbuilder and the rest, from PyPI) into a venv of its own and tries the real
# euca-describe-availability-zones, saying why it does not run before replaying.
#
# Usage: scripts/euca2ools-check.sh   (the euca binary is $EUCA, else target/debug/euca,
# built when missing; Python with boto3 is $EUCA_PYTHON, else .venv/bin/python)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
captures=$root/../shared/reference/captures
python=${EUCA_PYTHON:-$root/.venv/bin/python}
euca=${EUCA:-$root/target/debug/euca}
if [ ! -d "$captures" ]; then
    echo "euca2ools-check.sh: $captures is absent (the recorded euca2ools requests)" >&2
    exit 1
fi
if [ ! -x "$euca" ]; then
    (cd "$root" && cargo build --bin euca)
fi

work=$(mktemp -d)
up_pid=
stop() {
    if [ -n "$up_pid" ]; then
        kill -TERM "$up_pid" 2>/dev/null || true
        wait "$up_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop EXIT INT TERM

if [ -n "${EUCA2OOLS_SRC:-}" ]; then
    echo "== euca2ools from $EUCA2OOLS_SRC"
    "$python" -m venv "$work/venv"
    "$work/venv/bin/pip" install --quiet requestbuilder requests six lxml PyYAML
    if PYTHONPATH=$EUCA2OOLS_SRC "$work/venv/bin/python" "$EUCA2OOLS_SRC/bin/euca-describe-availability-zones" \
        --help >"$work/try.log" 2>&1; then
        echo "it runs under $("$work/venv/bin/python" --version); the replay below still shows the wire format"
    else
        echo "it does not run under $("$work/venv/bin/python" --version):"
        tail -n 4 "$work/try.log"
    fi
fi

# A free run of five ports for euca up.
base=$("$python" - <<'EOF'
import socket
for _ in range(100):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); base = s.getsockname()[1]; s.close()
    if base > 65000:
        continue
    try:
        for port in range(base, base + 5):
            t = socket.socket(); t.bind(("127.0.0.1", port)); t.close()
    except OSError:
        continue
    print(base)
    break
EOF
)
home=$work/cloud
"$euca" up --home "$home" --port-base "$base" --hypervisor test >"$work/up.out" 2>"$work/up.log" &
up_pid=$!
# Ready once euca up has added the default image (after its `cloud ready`).
tries=0
until grep -q '^RAMDISK' "$home/logs/add-default.log" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 600 ] || ! kill -0 "$up_pid" 2>/dev/null; then
        echo "euca2ools-check.sh: the cloud did not come up with its default image:" >&2
        tail -n 20 "$work/up.log" >&2
        exit 1
    fi
    sleep 0.1
done
field() { sed -n "s/^$1\t\([^\t]*\).*/\1/p" "$home/logs/add-default.log"; }
emi=$(field IMAGE)
eki=$(field KERNEL)
eri=$(field RAMDISK)
"$euca" admin --data "$home" user add alice >/dev/null
echo "== a cloud from euca up on 127.0.0.1:$base, default image $emi ($eki, $eri), user alice"

"$python" "$root/tests/py/journey_euca2ools.py" "$home/credentials/alice" "$captures" "$emi" "$eki" "$eri"
