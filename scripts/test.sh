#!/usr/bin/env bash
# The project's test command: installs prerequisites (scripts/setup.sh), then checks formatting,
# lints, builds and runs every test of the workspace. Every step runs even after a failure, so
# one report shows all problems; the exit status is non-zero when any step failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

steps=()
results=()
failed=0

# run NAME COMMAND...: runs one step, remembers its outcome and duration.
run() {
    local name=$1
    shift
    printf '\n==> %s: %s\n' "$name" "$*"
    local start=$SECONDS
    "$@"
    local status=$?
    local took=$((SECONDS - start))
    steps+=("$name")
    if ((status == 0)); then
        results+=("ok      ${took}s")
    else
        results+=("FAILED  ${took}s (exit $status)")
        failed=1
    fi
    return "$status"
}

summary() {
    printf '\n==> summary\n'
    local i
    for i in "${!steps[@]}"; do
        printf '  %-8s %s\n' "${steps[$i]}" "${results[$i]}"
    done
    if ((failed)); then
        printf 'tests: FAILED\n'
    else
        printf 'tests: all passed\n'
    fi
}

# Without prerequisites nothing else can say anything useful.
if ! run setup bash scripts/setup.sh; then
    summary
    exit 1
fi
if ! command -v cargo >/dev/null && [[ -x $HOME/.cargo/bin/cargo ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

run fmt cargo fmt --all --check
run clippy cargo clippy --workspace --all-targets -- -D warnings
run build cargo build --workspace
run test cargo test --workspace
# The CLC's integration tests again with the cloud's state in PostgreSQL (a server the tests
# start themselves); the store's own suite already ran on both engines above.
clc_tests=()
for file in tests/cloud_*.rs; do
    clc_tests+=(--test "$(basename "$file" .rs)")
done
run postgres env EUCA_TEST_STORE=postgres cargo test "${clc_tests[@]}"

summary
exit "$failed"
