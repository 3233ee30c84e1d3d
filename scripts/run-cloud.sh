#!/usr/bin/env bash
# The main job: installs prerequisites, builds `euca` and runs the cloud on this machine with
# embedded defaults, until Ctrl-C (or SIGTERM), which stops every component cleanly.
#
# Runs the components that exist today: Walrus (S3, :8773/services/Walrus), a node controller
# (:8775/axis2/services/EucalyptusNC) and a cluster controller over it
# (:8774/axis2/services/EucalyptusCC). The CLC and SC join here as their issues land.
#
# Environment (all optional):
#   EUCA_HOME        state directory (keys, Walrus data, instances) [default: <repo>/var]
#   EUCA_HOST        address to listen on                            [default: 127.0.0.1]
#   EUCA_HYPERVISOR  test | kvm | xen; default kvm (QEMU, software emulation where KVM is not
#                    usable) when libvirt's QEMU driver is installed, else test
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup.sh
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

cargo build --release --bin euca
euca="${CARGO_TARGET_DIR:-$root/target}/release/euca"

home=${EUCA_HOME:-$root/var}
host=${EUCA_HOST:-127.0.0.1}
keys="$home/keys"
mkdir -p "$home"

# Existing keys are kept: a restart serves the same cloud.
"$euca" keys init "$keys"

if [[ -n ${EUCA_HYPERVISOR:-} ]]; then
    hypervisor=$EUCA_HYPERVISOR
elif [[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ]] &&
    command -v qemu-system-x86_64 >/dev/null; then
    hypervisor=kvm
else
    hypervisor=test
fi

node_args=(--listen "$host:8775" --hypervisor "$hypervisor" --keys "$keys" --data "$home/node")
if [[ $hypervisor == kvm ]]; then
    # No libvirt daemon needed: the embedded QEMU driver keeps its state under EUCA_HOME.
    embed="$home/libvirt"
    mkdir -p "$embed/etc"
    [[ -f $embed/etc/qemu.conf ]] || printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' >"$embed/etc/qemu.conf"
    node_args+=(--libvirt-uri "qemu:///embed?root=$embed")
    # KVM is used only where it can run stock guests; elsewhere QEMU emulates the CPU.
    [[ -n ${LIBVIRT_DOMAIN_TYPE:-} ]] || export LIBVIRT_DOMAIN_TYPE=qemu
fi

pids=()
stop() {
    trap - INT TERM
    echo "run-cloud: stopping"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM

"$euca" walrus --listen "$host:8773" --data "$home/walrus" --keys "$keys" &
pids+=($!)
"$euca" node "${node_args[@]}" &
pids+=($!)
"$euca" cluster --listen "$host:8774" --keys "$keys" --data "$home/cluster" --nodes "$host:8775" &
pids+=($!)

# Walrus writes the administrator's credentials on its first start.
for _ in $(seq 50); do
    [[ -f $home/walrus/admin-eucarc ]] && break
    sleep 0.2
done

cat <<EOF

run-cloud: running (hypervisor: $hypervisor; state in $home)
  Walrus (S3)      http://$host:8773/services/Walrus
  node controller  http://$host:8775/axis2/services/EucalyptusNC   (WSDL: add ?wsdl)
  cluster          http://$host:8774/axis2/services/EucalyptusCC
  credentials      source $home/walrus/admin-eucarc
  keys             $keys
Stop with Ctrl-C.
EOF

wait -n "${pids[@]}" || true
stop
