#!/usr/bin/env bash
# Decode benchmark: rustane (cached, uncached) vs PyTorch CPU on the same random Stories110M-shaped
# weights, with the machine's memcpy bandwidth. Needs python3 with numpy and torch.
#   bench/decode/run.sh [--model stories110m] [--threads N] [--tokens 64]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node_modules/.bin/bun bench/decode/decode.ts "$@"
