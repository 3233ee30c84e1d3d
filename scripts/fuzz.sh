#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for SECONDS each (default 120):
#   envelope_parse  arbitrary bytes -> xmlbind::parse -> soap::c14n::exclusive
#   c14n            generated documents in two spellings -> same canonical form, idempotence
# Installs cargo-fuzz from crates.io when missing. Not part of the test suite.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail

seconds="${1:-120}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(envelope_parse c14n)

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# cargo-fuzz needs nightly-only flags (-Zsanitizer); RUSTC_BOOTSTRAP lets a stable toolchain
# accept them.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/fuzz/target}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi

for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    seeds=()
    extra=()
    if [ "$target" = envelope_parse ]; then
        # Start from the C14N test documents; new findings go to the first directory only.
        seeds=(services/soap/tests/fixtures/c14n/corpus services/soap/tests/fixtures/c14n/w3c)
        extra=(-dict=fuzz/xml.dict)
    else
        # Structured input: more bytes make bigger documents; use them from the start.
        extra=(-max_len=1024 -len_control=0)
    fi
    echo "== fuzzing $target for ${seconds}s" >&2
    cargo fuzz run -O "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${extra[@]}"
done
