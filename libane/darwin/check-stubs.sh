#!/usr/bin/env bash
# check-stubs.sh — every libc function that libane/src/core/platform.h declares for
# __APPLE__ must be exported by libane/darwin/libSystem.tbd. The darwin link only notices a
# missing stub once some source calls the function; this notices it when the declaration
# is added, and names it.
#   bash libane/darwin/check-stubs.sh [platform.h] [libSystem.tbd]
set -euo pipefail
header=${1:-libane/src/core/platform.h}
stub=${2:-libane/darwin/libSystem.tbd}

# Function names declared between "#else /* __APPLE__" and "#endif /* __APPLE__": every
# identifier directly followed by "(" on a line that is not a directive, typedef or comment.
declared=$(sed -n '/^#else \/\* __APPLE__/,/^#endif \/\* __APPLE__/p' "$header" |
  grep -vE '^[[:space:]]*(#|typedef|/\*)' | grep -oE '[A-Za-z_][A-Za-z0-9_]*\(' | tr -d '(' | sort -u)
[[ -n $declared ]] || { echo "check-stubs: no __APPLE__ declarations found in $header" >&2; exit 1; }
exported=$(sed -n '/symbols:/,/]/p' "$stub" | tr -s ' ,[]' '\n' | sed -n 's/^_//p' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
if [[ -n $missing ]]; then
  echo "check-stubs: $header declares functions that $stub does not export; add them as _name: $(echo $missing)" >&2
  exit 1
fi
echo "check-stubs: $stub exports all $(echo "$declared" | wc -l) functions platform.h declares for __APPLE__"
