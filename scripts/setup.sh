#!/usr/bin/env bash
# Installs what eucalyptus-rs needs on Debian 12: the system packages for building, testing and
# running the cloud, and the Python venv of the independent test clients at <repo>/.venv.
# Idempotent: when everything is in place a second run only checks and returns in seconds.
# Run as root (or with sudo available); CI runs it through scripts/test.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
requirements="$root/tests/requirements.txt"
stamp="$venv/.requirements.sha256"

log() { printf 'setup: %s\n' "$*"; }
die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

packages=(
    # building: the openssl and virt crates link against these
    pkg-config libssl-dev libvirt-dev
    # independent checkers the tests call: xmlsec1 (WS-Security), xmllint (XML Schema)
    xmlsec1 libxml2-utils
    # node controller: libvirt, QEMU (guests run under software emulation), busybox for tiny
    # test guests. qemu-utils is taken from the distribution release below: our machine image
    # carries a backported qemu-utils 10 that Breaks the release's qemu-system-common 7.2.
    libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
    qemu-system-x86 qemu-utils busybox-static
    # volumes: the storage controller's userspace iSCSI target (tgt), QEMU's iSCSI driver (libiscsi)
    qemu-block-extra tgt
    # the SC's lvm backend: LVM2 over loop devices (it also needs device-mapper in the kernel)
    lvm2
    # benchmarks: a plain HTTP server to compare Walrus against
    nginx
    # cluster VM network: ISC dhcpd, the DHCP server the original ran (tests check its config)
    isc-dhcp-server
    # the CLC's PostgreSQL store: its tests start servers of their own from these binaries
    # (services/pgtest); the system gets no cluster and no server (see below)
    postgresql
    # the admin console's browser tests: Selenium drives Debian's Chromium, headless
    chromium chromium-driver
)

venv_works() { [[ -x $venv/bin/python ]] && "$venv/bin/python" -c '' 2>/dev/null; }

# Debian splits venv support out of python3; probe only while there is no working venv yet.
if ! venv_works; then
    command -v python3 >/dev/null || packages+=(python3)
    probe=$(mktemp -d)
    trap 'rm -rf "$probe"' EXIT
    if ! python3 -m venv "$probe/venv" >/dev/null 2>&1; then
        packages+=(python3-venv)
    fi
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)
    [[ $status == "ii "* ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
    log "system packages already installed"
else
    log "installing system packages (missing: ${missing[*]})"
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "not root and no sudo: run as root to install ${missing[*]}"
        apt=(sudo "${apt[@]}")
    fi
    # Debian's postgresql makes and starts a system-wide cluster "main" unless told not to.
    nocluster=/etc/postgresql-common/createcluster.d/eucalyptus-rs.conf
    if [[ " ${missing[*]} " == *" postgresql "* && ! -f $nocluster ]]; then
        log "no system-wide PostgreSQL cluster: $nocluster"
        root_do=()
        ((EUID == 0)) || root_do=(sudo)
        "${root_do[@]}" mkdir -p "$(dirname "$nocluster")"
        printf 'create_main_cluster = false\n' | "${root_do[@]}" tee "$nocluster" >/dev/null
    fi
    "${apt[@]}" update -q </dev/null
    # The whole list in one command, so apt resolves them together; installed ones are no-ops.
    # qemu-utils comes from the release itself, replacing a backported one (a downgrade).
    codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
    install=()
    for package in "${packages[@]}"; do
        [[ $package == qemu-utils ]] && package+="/$codename"
        install+=("$package")
    done
    "${apt[@]}" install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends --allow-downgrades \
        "${install[@]}" </dev/null
fi

# The Rust toolchain itself is a prerequisite; its fmt and clippy components are ours to add.
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || die "cargo not found: install Rust first (https://rustup.rs)"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    command -v rustup >/dev/null || die "cargo fmt or cargo clippy missing and no rustup to add them"
    log "adding rustfmt and clippy"
    rustup component add rustfmt clippy
fi

# The venv is current when it runs and was filled from exactly this requirements file.
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if venv_works && [[ -f $stamp && $(<"$stamp") == "$wanted" ]]; then
    log "python venv up to date ($venv)"
else
    if ! venv_works; then
        log "creating python venv at $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    log "installing python test clients from ${requirements#"$root"/}"
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$requirements" </dev/null
    # xmlsec refuses to import when its libxml2 differs from lxml's: catch that here, not in a test.
    "$venv/bin/python" -c 'import lxml.etree, xmlsec, zeep, xmlschema, signxml, boto3' ||
        die "python test clients installed but do not import (lxml/xmlsec mismatch?)"
    "$venv/bin/aws" --version >/dev/null 2>&1 || die "awscli installed but does not run"
    "$venv/bin/s3cmd" --version >/dev/null 2>&1 || die "s3cmd installed but does not run"
    printf '%s\n' "$wanted" >"$stamp"
fi

log "done"
