#!/bin/sh
# bench/gpt: train ms/step of gpt-char-25m at batch 4 x 64 tokens, rustane (cpu backend, fp32
# numerics) and PyTorch CPU (fp32) with the same model, optimizer and thread count, one after
# the other in one run. Usage: bench/gpt/run.sh [threads] [steps]   (from the repository root)
set -e
THREADS=${1:-$(nproc)}
STEPS=${2:-10}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; threads $THREADS; $STEPS timed steps after 2 warmup"
node_modules/.bin/bun bench/gpt/rustane_train.ts --threads "$THREADS" --steps "$STEPS" --batch 4 --seq 64
OMP_NUM_THREADS=$THREADS python3 bench/gpt/pytorch_train.py --threads "$THREADS" --steps "$STEPS" --batch 4 --seq 64
