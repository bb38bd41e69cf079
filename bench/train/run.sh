#!/usr/bin/env bash
# bench/train/run.sh — rustane's training step beside PyTorch's, one after the other on the same
# threads, and a comparison table. Run from anywhere; needs python3 with torch (see test/parity).
#
#   bash bench/train/run.sh [--model stories110m] [--seq 256] [--steps 5] [--threads N] [--pairs P]
#
# Runs `rustane bench train` in fp32 numerics (the comparison the target is about: rustane's
# ms/step <= 0.8x PyTorch's) and in fp16 (the ANE's numerics), then bench/train/pytorch_train.py
# (PyTorch CPU fp32 eager), each in its own process. The JSON of each run is kept in
# build/bench-train/. RUSTANE overrides how rustane is run (default: bun src/main.ts).
# --pairs P (P > 1) then runs P more rustane-fp32 / PyTorch pairs, alternating which goes first
# (ABBA, so a machine that speeds up or slows down during the run favours neither), and reports
# each pair's ratio and their median: on a shared machine single runs move by +-15 %.
# bench/train/lockstep.py compares the two step by step instead (one step of each per round),
# which is what the target's figures in BENCHMARKS.md come from.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=stories110m seq=256 steps=5 threads=$(nproc) pairs=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --seq) seq=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1 (use --model, --seq, --steps, --threads, --pairs)" >&2; exit 2 ;;
  esac
done
config=models/$model.json
[[ -f $config ]] || { echo "run.sh: no model config $config" >&2; exit 2; }
read -r -a rustane <<< "${RUSTANE:-node_modules/.bin/bun src/main.ts}"
out=build/bench-train
mkdir -p "$out"
tag=$model-seq$seq-t$threads

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
for numerics in fp32 fp16; do
  echo "rustane bench train --numerics $numerics ..."
  "${rustane[@]}" bench train --model "$model" --seq "$seq" --steps "$steps" --threads "$threads" --numerics "$numerics" --json \
    > "$out/$tag-rustane-$numerics.json"
done
echo "pytorch_train.py ..."
python3 bench/train/pytorch_train.py --model "$config" --seq "$seq" --steps "$steps" --threads "$threads" --json > "$out/$tag-pytorch.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo

python3 - "$out/$tag-rustane-fp32.json" "$out/$tag-rustane-fp16.json" "$out/$tag-pytorch.json" <<'EOF'
import json, sys
r32, r16, pt = (json.load(open(p)) for p in sys.argv[1:])
base = pt["ms_per_step"]
rows = [("rustane cpu, fp32 numerics", r32), ("rustane cpu, fp16 numerics (ANE)", r16), (pt["framework"], pt)]
print(f"{r32['model']} ({r32['params'] / 1e6:.1f}M parameters), seq {r32['seq']}, batch 1, {r32['threads']} threads, "
      f"{r32['machine']['cpu']} ({r32['machine']['cores']} cores); median of {r32['steps']} steps after {r32['warmup']} warmup")
print(f"{'':36} {'ms/step':>9} {'tokens/s':>9} {'x PyTorch':>10} {'peak RSS MiB':>13}")
for name, r in rows:
    print(f"{name:36} {r['ms_per_step']:9.1f} {r['tokens_per_s']:9.1f} {r['ms_per_step'] / base:10.2f} {r['peak_rss_mb']:13.0f}")
verdict = "meets" if r32["ms_per_step"] <= 0.8 * base else "misses"
print(f"target rustane fp32 <= 0.8x PyTorch: {verdict} ({r32['ms_per_step'] / base:.2f}x)")
print("\nrustane fp32, where a step's time goes (mean ms per step):")
for k, ms in r32["breakdown"].items():
    print(f"  {k:34} {ms:9.1f} {100 * ms / r32['ms_per_step_mean']:5.1f}%")
EOF

(( pairs > 1 )) || exit 0
run_rustane() { "${rustane[@]}" bench train --model "$model" --seq "$seq" --steps "$steps" --threads "$threads" --numerics fp32 --json > "$1"; }
run_pytorch() { python3 bench/train/pytorch_train.py --model "$config" --seq "$seq" --steps "$steps" --threads "$threads" --json > "$1"; }
files=()
for ((i = 1; i <= pairs; i++)); do
  r=$out/$tag-pair$i-rustane.json p=$out/$tag-pair$i-pytorch.json
  echo "pair $i of $pairs ..."
  if (( i % 2 )); then run_rustane "$r"; run_pytorch "$p"; else run_pytorch "$p"; run_rustane "$r"; fi
  files+=("$r" "$p")
done
python3 - "${files[@]}" <<'EOF'
import json, statistics, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
pairs = list(zip(runs[0::2], runs[1::2]))
print(f"\n{'pair':>4} {'rustane fp32':>13} {'PyTorch':>9} {'ratio':>6}   (median ms/step of each run)")
ratios = []
for i, (r, p) in enumerate(pairs, 1):
    ratios.append(r["ms_per_step"] / p["ms_per_step"])
    print(f"{i:>4} {r['ms_per_step']:13.1f} {p['ms_per_step']:9.1f} {ratios[-1]:6.2f}")
print(f"median ratio {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}); "
      f"fastest steps: rustane {min(r['ms_per_step_min'] for r, _ in pairs):.1f}, PyTorch {min(p['ms_per_step_min'] for _, p in pairs):.1f} ms")
EOF
