#!/usr/bin/env bash
# Runs Strata's whole test suite: formatting, lints, docs, then every unit,
# property and end-to-end test of the workspace. CI runs exactly this.
#
# Needs a Rust toolchain (cargo), a C compiler and make (the Kafka client's
# librdkafka is built from source) and python3 with venv: the end-to-end tests
# also drive the server with Druid's Python client and write Parquet with
# pyarrow, installed here from tests/python/requirements.txt into a virtualenv
# outside the clone,
# $STRATA_PYTHON_VENV (by default ~/.cache/strata-venv), and reinstalled only
# when that file changes. The Kafka tests run a real broker, tansu 0.6.0,
# built here once (about 16 minutes) into $STRATA_TANSU_ROOT (by default
# ~/.cache/strata-tansu). Build artifacts go to $CARGO_TARGET_DIR, by default
# ~/.cache/strata-target. All are kept so that later runs from a fresh clone
# reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== python virtualenv for the client tests"
venv="${STRATA_PYTHON_VENV:-$HOME/.cache/strata-venv}"
requirements=tests/python/requirements.txt
if ! command -v python3 >/dev/null; then
    echo "python3 is missing: the client tests need it (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi
# Debian splits venv's pip bootstrap (ensurepip) into python3-venv.
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    echo "python3 cannot make virtualenvs: install venv (Debian: apt-get install python3-venv)" >&2
    exit 1
fi
# A virtualenv whose interpreter no longer runs (its base python was
# upgraded or removed) is made anew; anything else at that path is left alone.
if ! "$venv/bin/python" -c "" 2>/dev/null; then
    if [ -n "$(ls -A "$venv" 2>/dev/null)" ] && [ ! -f "$venv/pyvenv.cfg" ]; then
        echo "$venv is not a virtualenv: remove it or set STRATA_PYTHON_VENV to another path" >&2
        exit 1
    fi
    python3 -m venv --clear "$venv"
fi
if ! cmp -s "$requirements" "$venv/strata-requirements.txt"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/strata-requirements.txt"
fi
export STRATA_TEST_PYTHON="$venv/bin/python"
echo "== tansu, the Kafka-compatible broker of the Kafka tests"
tansu_root="${STRATA_TANSU_ROOT:-$HOME/.cache/strata-tansu}"
if ! "$tansu_root/bin/tansu" --version 2>/dev/null | grep -q "0\.6\.0"; then
    echo "building tansu 0.6.0 into $tansu_root (about 16 minutes, once)"
    CARGO_TARGET_DIR="$tansu_root/build" \
        cargo install tansu --version 0.6.0 --locked --features dynostore --root "$tansu_root"
    rm -rf "$tansu_root/build"
fi
export STRATA_TEST_TANSU="$tansu_root/bin/tansu"
# The end-to-end tests drive the `strata` binary itself; cargo builds a
# package's binaries only for that package's own tests, so build it first.
echo "== cargo build (the strata binary the end-to-end tests run)"
cargo build -p strata-tools --bins --locked
echo "== cargo test"
cargo test --workspace --locked
# The comparison harness at 100k events: every engine (Strata, chdb, DuckDB, tantivy alone)
# must give the oracle's answers. Nothing is timed. It makes its own virtualenv with the
# pinned peers (benches/compare/requirements.txt) in ~/.cache/strata-compare-venv.
echo "== benchmark harness: every engine's answers at 100k events"
cargo build -p strata-benches --bin tantivy_alone --locked
python3 benches/compare/compare.py --events 100000 --check \
    --binary "$CARGO_TARGET_DIR/debug/strata" \
    --tantivy-binary "$CARGO_TARGET_DIR/debug/tantivy_alone"
