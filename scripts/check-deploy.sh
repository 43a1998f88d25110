#!/usr/bin/env bash
# Checks the deployment files in deploy/: `systemd-analyze verify` on the systemd units (with ExecStart pointing at
# the binaries of this build) where systemd's tools exist, and the Dockerfile's references to the repository.
# Usage: scripts/check-deploy.sh [BIN_DIR]   (default: the debug build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-$(swift build --show-bin-path 2>/dev/null || echo .build/debug)}"
status=0

if command -v systemd-analyze >/dev/null 2>&1; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    for unit in deploy/systemd/*.service; do
        name=$(basename "$unit")
        exe=$(sed -n 's#^ExecStart=/usr/local/bin/\([^ ]*\).*#\1#p' "$unit")
        if [ ! -x "$BIN/$exe" ]; then
            echo "check-deploy: $name not verified: $BIN/$exe is not built"
            status=1
            continue
        fi
        sed "s#/usr/local/bin/#$(cd "$BIN" && pwd)/#g" "$unit" > "$scratch/$name"
        if out=$(systemd-analyze verify "$scratch/$name" 2>&1) && [ -z "$out" ]; then
            echo "check-deploy: $name: systemd-analyze verify clean"
        else
            echo "check-deploy: $name: systemd-analyze verify reported:"
            echo "$out"
            status=1
        fi
    done
else
    echo "check-deploy: systemd-analyze not found: the systemd units were NOT verified (install systemd to check them)"
fi

# The Dockerfile copies these paths and builds these products: they must exist in the repository.
for path in $(sed -n 's#^COPY \([A-Za-z.][^ ]*\) .*#\1#p' deploy/Dockerfile); do
    [ -e "$path" ] || { echo "check-deploy: deploy/Dockerfile copies $path, which does not exist"; status=1; }
done
for product in $(sed -n 's#.*--product \([a-z-]*\).*#\1#p' deploy/Dockerfile | sort -u); do
    grep -q "name: \"$product\"" Package.swift || { echo "check-deploy: deploy/Dockerfile builds $product, not a product of Package.swift"; status=1; }
done
[ $status = 0 ] && echo "check-deploy: deploy/ is consistent"
exit $status
