#!/usr/bin/env bash
# The main job in one command: installs prerequisites (scripts/setup.sh), builds `euca` and
# runs the whole cloud with `euca up` until Ctrl-C (or SIGTERM), which stops every component.
# Arguments go to `euca up` (`--home DIR`, `--host ADDR`, `--port-base P`,
# `--hypervisor test|kvm`); state lives in var/ (or $EUCA_HOME) unless --home says otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash scripts/setup.sh
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
exec cargo run --quiet --release --bin euca -- up "$@"
