#!/usr/bin/env bash
# Runs Strata's whole test suite: formatting, lints, docs, then every unit,
# property and end-to-end test of the workspace. CI runs exactly this.
#
# Needs only a Rust toolchain (cargo). Build artifacts go to
# $CARGO_TARGET_DIR, by default ~/.cache/strata-target, so that later runs
# from a fresh clone reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== cargo test"
cargo test --workspace --locked
