#!/usr/bin/env bash
# Runs every test: installs missing system packages, builds, runs the Swift test suites.
set -euo pipefail
cd "$(dirname "$0")/.."
HYPERTUNA_PYTHON=1 scripts/ensure-deps.sh
swift build --build-tests
swift test --skip-build --parallel
