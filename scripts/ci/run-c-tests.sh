#!/usr/bin/env bash
# run-c-tests.sh — run libane's sanitized C test programs (built by `make test-c`) from the
# repo root, one summary line each, and fail if any fails.
#   FUZZ_ITERS=N bash scripts/ci/run-c-tests.sh build/test/test_a build/test/fuzz_mil ...
# A test_* program passes when it exits 0 and its last "N passed, M failed" line has M = 0;
# a program that prints no such line fails (it may have died before its summary). fuzz_mil
# gets FUZZ_ITERS as its argument and passes when it exits 0 (and, if it prints counts,
# when they show no failure). A sanitizer report exits
# non-zero (halt_on_error / -fno-sanitize-recover), so it fails the program.
# Each program's output goes to <program>.log; the tail of it is shown when it fails.
set -uo pipefail
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
limit=${TEST_TIMEOUT:-600}   # seconds per program: a hung test must not hang CI
fuzz_iters=${FUZZ_ITERS:-}      # empty: fuzz_mil's own default

if [[ $# -eq 0 ]]; then
  echo "test-c: no test program was built (libane/test/test_*.c missing?)"
  echo "test-c: 0 programs, 0 passed, 1 failed"; exit 1
fi

n_ok=0; n_bad=0
for prog in "$@"; do
  name=$(basename "$prog"); log=$prog.log
  args=(); [[ $name == fuzz_mil && -n $fuzz_iters ]] && args=("$fuzz_iters")
  t0=$EPOCHREALTIME
  timeout "$limit" "$prog" "${args[@]}" >"$log" 2>&1; rc=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  counts=$(grep -oE '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  why=""
  if [[ $rc -eq 124 ]]; then why="timed out after ${limit}s"
  elif [[ $rc -ne 0 ]]; then why="exit code $rc"
  elif [[ $name != fuzz_mil && -z $counts ]]; then why="printed no 'N passed, M failed' line"
  elif [[ -n $counts && ! $counts =~ \ 0\ failed$ ]]; then why="tests failed"
  fi
  detail=${counts:-exit 0}
  if [[ -z $why ]]; then
    n_ok=$((n_ok + 1)); echo "test-c: PASS $name (${detail}; ${secs}s)"
  else
    n_bad=$((n_bad + 1)); echo "test-c: FAIL $name: $why (${detail:-no counts}; ${secs}s); last lines of $log:"
    tail -n 40 "$log" | sed 's/^/    /'
  fi
done
echo "test-c: $# programs, $n_ok passed, $n_bad failed"
[[ $n_bad -eq 0 ]]
