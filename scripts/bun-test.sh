#!/usr/bin/env bash
# bun-test.sh — run `bun test` and end with one line "N passed, N failed, N skipped".
#   bash scripts/bun-test.sh [bun test arguments...]
# bun test prints no such line (reference/bun-notes.md §5): its summary goes to stderr as
# " 3 pass", " 1 skip", " 1 todo", " 1 fail", " 1 error". Errors count as failures, todo as
# skipped. The LAST matching line is taken, since a test may print " 99 pass" itself. With
# no summary at all (no test found, a crash), a non-zero exit counts as one failure.
# The exit code is bun test's own: 0 only when everything passed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=${BUN:-node_modules/.bin/bun}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$BUN" test "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
sed -i -E 's/\x1b\[[0-9;]*m//g; s/\r$//' "$log"   # strip colours and CRs
last() { grep -E "^ ?[0-9]+ $1\$" "$log" | tail -n 1 | grep -oE '[0-9]+' || echo 0; }
if grep -qE '^Ran [0-9]+ tests? across' "$log"; then
  pass=$(last pass); fail=$(( $(last fail) + $(last error) )); skip=$(( $(last skip) + $(last todo) ))
else
  pass=0; fail=0; skip=0; [[ $rc -ne 0 ]] && fail=1
fi
echo
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
