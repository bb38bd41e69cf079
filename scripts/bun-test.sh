#!/usr/bin/env bash
# bun-test.sh — run the bun test suite and end with one line "N passed, N failed, N skipped".
#   bash scripts/bun-test.sh                 every test file under test/, each in its own process
#   bash scripts/bun-test.sh FILE|DIR ...    those files (a DIR: the test files under it)
#   BUN_TEST_ARGS="-t name" bash scripts/bun-test.sh ...   extra bun test arguments
#
# Each file runs in a fresh process because libane keeps per-process state on purpose, as the
# device does: the ANE's compile budget (~119 programs per process under a real chip profile)
# must not leak from one file's tests into another's.
# bun test prints no "N passed" line (reference/bun-notes.md §5): its summary goes to stderr as
# " 3 pass", " 1 skip", " 1 todo", " 1 fail", " 1 error". Errors count as failures, todo as
# skipped. The LAST matching line of a file's run is taken, since a test may print " 99 pass"
# itself. A file whose run has no summary (a crash) and exits non-zero counts as one failure.
# Exits 0 only when every file passed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=${BUN:-node_modules/.bin/bun}
read -r -a extra <<< "${BUN_TEST_ARGS:-}"

files=()
targets=("$@")
((${#targets[@]})) || targets=(test)
for t in "${targets[@]}"; do
  if [[ -d $t ]]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$t" -name '*.test.ts' | sort)
  else
    files+=("$t")
  fi
done
if ((${#files[@]} == 0)); then echo "no test files under ${targets[*]}"; echo; echo "0 passed, 1 failed, 0 skipped"; exit 1; fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0; fail=0; skip=0; rc=0; failed_files=()
last() { grep -E "^ ?[0-9]+ $1\$" "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
for f in "${files[@]}"; do
  [[ $f == ./* || $f == /* ]] || f="./$f"      # a bare path would be read as a name filter
  "$BUN" test "${extra[@]}" "$f" 2>&1 | tee "$log"; frc=${PIPESTATUS[0]}
  sed -i -E 's/\x1b\[[0-9;]*m//g; s/\r$//' "$log"   # strip colours and CRs
  if grep -qE '^Ran [0-9]+ tests? across' "$log"; then
    p=$(last pass); x=$(( $(last fail) + $(last error) )); s=$(( $(last skip) + $(last todo) ))
  else
    p=0; x=0; s=0; ((frc != 0)) && x=1
  fi
  ((frc != 0 && x == 0)) && x=1                   # failed without a failing test: count it
  pass=$((pass + p)); fail=$((fail + x)); skip=$((skip + s))
  if ((frc != 0)); then rc=1; failed_files+=("$f"); fi
done
echo
((${#failed_files[@]})) && echo "failed files: ${failed_files[*]}"
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
