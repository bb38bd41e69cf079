#!/usr/bin/env bash
# check-dylib.sh — static checks of a built libane before it is embedded and shipped.
#
#   bash libane/darwin/check-dylib.sh darwin build/darwin/libane.dylib libane/include/ane.h
#   bash libane/darwin/check-dylib.sh host   build/host/libane.so      libane/include/ane.h
#
# Nobody here has a Mac, so these checks are what stands between a link that "worked" and a
# dylib that dyld refuses on the tester's machine:
#   darwin: (a) a Mach-O arm64 dylib, install name @rpath/libane.dylib, minos 11.0, signed
#           (arm64 macOS kills unsigned code); (b) it exports exactly the ANE_API functions
#           of ane.h, no more (a stray global is ABI surface nobody promised) and no fewer
#           (the TypeScript side dlopens them by name); (c) every import binds two-level to
#           an allowed system library (a flat-namespace lookup fails only at load time).
#   host:   (b) for the ELF .so, and every undefined symbol versioned by glibc.
# Prints every problem, then fails with a non-zero exit if there was any.
set -uo pipefail

kind=${1:-}; lib=${2:-}; header=${3:-}
if [[ -z $kind || -z $lib || -z $header ]]; then
  echo "usage: check-dylib.sh darwin|host <library> <ane.h>" >&2; exit 2
fi
[[ -f $lib ]] || { echo "check-dylib: $lib does not exist: build it first" >&2; exit 2; }
[[ -f $header ]] || { echo "check-dylib: header $header does not exist" >&2; exit 2; }

problems=0
fail() { echo "check-dylib: $lib: $*" >&2; problems=$((problems + 1)); }

# The public functions: each declaration in ane.h starts a line with "ANE_API <type> name(".
want=$(grep -E '^ANE_API ' "$header" | sed -E 's/\(.*//; s/.*[ *]//' | sort -u)
[[ -n $want ]] || { echo "check-dylib: found no ANE_API declaration in $header" >&2; exit 2; }

compare_exports() { # $1: the library's exported names, one a line, without Mach-O's '_'
  local have=$1 missing extra
  missing=$(comm -23 <(echo "$want") <(echo "$have" | sort -u))
  extra=$(comm -13 <(echo "$want") <(echo "$have" | sort -u))
  [[ -z $missing ]] || fail "does not export these ane.h functions: $(echo $missing)"
  [[ -z $extra ]] || fail "exports globals that ane.h does not declare (make them static or hidden): $(echo $extra)"
}

case $kind in
darwin)
  NM=${LLVM_NM:-llvm-nm-16}; OBJDUMP=${LLVM_OBJDUMP:-llvm-objdump-16}
  for t in "$NM" "$OBJDUMP"; do
    command -v "$t" >/dev/null || { echo "check-dylib: $t not found (apt-get install llvm-16)" >&2; exit 2; }
  done

  # (a) what the file is
  header_line=$("$OBJDUMP" --macho --private-header "$lib" 2>&1 | grep -E '^ *MH_MAGIC' || true)
  read -r magic cpu _ _ filetype _ <<<"$header_line"
  [[ $magic == MH_MAGIC_64 && $cpu == ARM64 && $filetype == DYLIB ]] ||
    { fail "is not a 64-bit arm64 Mach-O dylib (header: ${header_line:-none})"; exit 1; }
  cmds=$("$OBJDUMP" --macho --private-headers "$lib" 2>&1)
  id=$("$OBJDUMP" --macho --dylib-id "$lib" | tail -n +2 | tr -d ' ')
  [[ $id == @rpath/libane.dylib ]] || fail "install name is '$id', expected @rpath/libane.dylib"
  grep -q 'cmd LC_CODE_SIGNATURE' <<<"$cmds" || fail "has no LC_CODE_SIGNATURE: arm64 macOS will not load unsigned code"
  grep -A4 'cmd LC_BUILD_VERSION' <<<"$cmds" | grep -qE 'minos 11\.0$' ||
    fail "LC_BUILD_VERSION minos is not 11.0 (built for the wrong deployment target?)"

  # (b) exports: defined external symbols, Mach-O's leading '_' removed
  compare_exports "$("$NM" --extern-only --defined-only --just-symbol-name "$lib" | sed 's/^_//')"

  # (c) imports: "(undefined) external _malloc (from libSystem)"
  allowed='libSystem|libobjc|IOSurface|CoreFoundation|Foundation'
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    from=$(sed -nE 's/.*\(from ([^)]*)\)$/\1/p' <<<"$line")
    sym=$(awk '{print $(NF>=4 ? 3 : NF)}' <<<"$line")
    if [[ -z $from ]]; then
      fail "imports $sym without a library (flat namespace: dyld resolves it only at load time, if at all): $line"
    elif ! [[ $from =~ ^($allowed)$ ]]; then
      fail "imports $sym from $from, which is not an allowed system library ($allowed)"
    fi
  done < <("$NM" -m --undefined-only "$lib" | sed -E 's/^ +//')
  while IFS= read -r dylib; do
    [[ $dylib == "$id" ]] && continue  # --dylibs-used lists the dylib's own LC_ID_DYLIB too
    [[ $dylib =~ ^(/usr/lib/libSystem\.B\.dylib|/usr/lib/libobjc\.A\.dylib|/System/Library/Frameworks/(IOSurface|CoreFoundation|Foundation)\.framework/Versions/[A-Z]/(IOSurface|CoreFoundation|Foundation))$ ]] ||
      fail "links a library that is not allowed: $dylib"
  done < <("$OBJDUMP" --macho --dylibs-used "$lib" | tail -n +2 | sed -E 's/^[[:space:]]+//; s/ \(compatibility.*//')
  ;;
host)
  NM=${NM:-nm}
  desc=$(file -b "$lib")
  [[ $desc == ELF*shared\ object* ]] || fail "is not an ELF shared object ($desc)"
  # (b) exports: dynamic symbols that are defined here
  compare_exports "$("$NM" -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//')"
  # imports: every strong undefined symbol must carry a glibc version, so it is glibc's
  bad=$("$NM" -D --undefined-only "$lib" | awk '$1 == "U" && $2 !~ /@GLIBC_/ {print $2}')
  [[ -z $bad ]] || fail "imports symbols that glibc does not provide: $(echo $bad)"
  ;;
*)
  echo "check-dylib: unknown kind '$kind' (darwin or host)" >&2; exit 2 ;;
esac

if ((problems)); then
  echo "check-dylib: $lib: FAILED ($problems problem(s))" >&2; exit 1
fi
echo "check-dylib: $lib: ok ($(echo "$want" | wc -l) exports, imports from allowed libraries only)"
