#!/usr/bin/env bash
# Runs the main job: installs missing system packages, builds in release, starts the gateway with ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product hypertuna-gateway
exec .build/release/hypertuna-gateway "$@"
