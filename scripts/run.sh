#!/usr/bin/env bash
# Runs the main job: installs missing system packages, builds in release, starts the gateway with ./data.
# The relay is hosted (GATEWAY_FEATURE_HYPERBEE_RELAY=true) unless the environment says otherwise: with the flag
# off the gateway serves no relay, which is not what a newcomer wants.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build -c release --product hypertuna-gateway
if [ -z "${GATEWAY_FEATURE_HYPERBEE_RELAY:-}" ]; then
    export GATEWAY_FEATURE_HYPERBEE_RELAY=true
    echo "run.sh: GATEWAY_FEATURE_HYPERBEE_RELAY=true (the relay log is hosted: websocket relay on /, swarm endpoint for peers on PORT+1); set it to false to run without a relay" >&2
fi
echo "run.sh: dispatcher ${GATEWAY_FEATURE_RELAY_DISPATCHER:-false}, token enforcement ${GATEWAY_FEATURE_RELAY_TOKEN_ENFORCEMENT:-false} (see Docs/gateway.md)" >&2
exec .build/release/hypertuna-gateway "$@"
