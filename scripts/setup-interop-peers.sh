#!/usr/bin/env bash
# Install the real libp2p peers the interop tests start as separate processes.
# Idempotent: does nothing when both are already up to date.
#
#   js-libp2p  tests/interop/js/node_modules, `npm ci` from the committed package-lock.json
#              (re-run when package.json / package-lock.json / the Node version change)
#   py-libp2p  its own venv (default .cache/pylibp2p-venv, override with
#              P2PSTACK_PYLIBP2P_VENV), built from tests/interop/py/requirements.txt
#              (rebuilt when requirements.txt or the Python version change)
#
# Each part keeps a stamp (sha256 of its inputs); tests/interop/peers.py checks the same
# stamps and fails with a pointer to this script when a peer is missing or stale.
#
# Usage: scripts/setup-interop-peers.sh [--force] [--js-only | --py-only]
# Environment: PYTHON (default python3, >= 3.11), NPM (default npm), P2PSTACK_PYLIBP2P_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

force=0 do_js=1 do_py=1
for arg in "$@"; do
    case $arg in
        --force) force=1 ;;
        --js-only) do_py=0 ;;
        --py-only) do_js=0 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "setup-interop-peers: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

die() {
    echo "setup-interop-peers: ERROR: $*" >&2
    exit 1
}
say() { echo "setup-interop-peers: $*" >&2; }

sha() { cat "$@" | sha256sum | cut -d" " -f1; }

# ---------------------------------------------------------------- js-libp2p
js_dir=tests/interop/js
if (( do_js )); then
    command -v node >/dev/null || die "node is not installed (need Node >= 20; apt-get install nodejs npm)"
    npm=${NPM:-npm}
    command -v "$npm" >/dev/null || die "npm is not installed (apt-get install npm)"
    node_major=$(node -p 'process.versions.node.split(".")[0]')
    (( node_major >= 20 )) || die "Node >= 20 is required (found $(node --version))"
    [[ -f $js_dir/package-lock.json ]] || die "$js_dir/package-lock.json is missing"

    # Stamp format must match tests/interop/peers.py: sha256 of package.json + package-lock.json
    # (concatenated), then the Node major version.
    js_stamp_want="$(sha "$js_dir/package.json" "$js_dir/package-lock.json") node$node_major"
    js_stamp_file=$js_dir/node_modules/.p2pstack-stamp
    if (( force )) || [[ ! -f $js_stamp_file || "$(cat "$js_stamp_file")" != "$js_stamp_want" ]]; then
        say "installing js-libp2p: npm ci in $js_dir"
        rm -f "$js_stamp_file"
        (cd "$js_dir" && "$npm" ci --no-audit --no-fund --loglevel=error) \
            || die "npm ci failed in $js_dir (is the npm registry reachable? is package-lock.json in sync with package.json?)"
        (cd "$js_dir" && node --input-type=module -e "await import('libp2p'); await import('@chainsafe/libp2p-noise'); await import('@chainsafe/libp2p-yamux')") \
            || die "js-libp2p was installed but cannot be imported"
        echo "$js_stamp_want" > "$js_stamp_file"
    else
        say "js-libp2p is up to date ($js_dir/node_modules)"
    fi
fi

# ---------------------------------------------------------------- py-libp2p
req=tests/interop/py/requirements.txt
venv=${P2PSTACK_PYLIBP2P_VENV:-$root/.cache/pylibp2p-venv}
if (( do_py )); then
    python=${PYTHON:-python3}
    command -v "$python" >/dev/null || die "$python not found (set PYTHON to a Python >= 3.11)"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "Python >= 3.11 is required for py-libp2p (found: $("$python" --version 2>&1))"
    [[ -f $req ]] || die "$req is missing"
    py_ver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

    # Stamp format must match tests/interop/peers.py: sha256 of requirements.txt, then
    # the Python major.minor the venv was built with.
    py_stamp_want="$(sha "$req") py$py_ver"
    py_stamp_file=$venv/.p2pstack-stamp
    if (( force )) || [[ ! -x $venv/bin/python || ! -f $py_stamp_file \
            || "$(cat "$py_stamp_file")" != "$py_stamp_want" ]]; then
        say "building the py-libp2p venv in $venv (from $req)"
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        "$python" -m venv "$venv" || die "could not create a venv with $python (python3-venv missing?)"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" \
            || die "pip install -r $req failed (is PyPI reachable?)"
        "$venv/bin/python" -c 'import libp2p, trio, multiaddr' \
            || die "py-libp2p was installed but cannot be imported"
        echo "$py_stamp_want" > "$py_stamp_file"
    else
        say "py-libp2p is up to date ($venv)"
    fi
fi
say "done"
