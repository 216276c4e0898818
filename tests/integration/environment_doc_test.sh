#!/usr/bin/env bash
# environment_doc_test.sh SOURCE_DIR UWSK_RUN MAN_PAGE: every UWSK_ environment variable the
# sources read is documented in `uwsk-run --help`, in the man page's ENVIRONMENT section and in
# README.md's table of them, and neither --help nor the man page documents one the sources do
# not read. The man page renders without warnings.
#
# The variables read are the names in getenv("UWSK_...") calls and the "UWSK_..." strings in any
# source file that calls getenv (a name handed to a helper, as src/nt/dbg/breakpoint.cpp does).
set -euo pipefail
source=$1
uwsk_run=$2
man_page=$3
fail() {
  echo "environment_doc_test: $*" >&2
  exit 1
}

mapfile -t readers < <(grep -rlE '\b(secure_)?getenv\b' "$source/src" "$source/tools" "$source/include" \
  --include='*.c' --include='*.cc' --include='*.cpp' --include='*.h' --include='*.hpp')
[ "${#readers[@]}" -gt 0 ] || fail "no source file calls getenv: is the scan broken?"
read_names=$(grep -ohE '"UWSK_[A-Z0-9_]+"' "${readers[@]}" | tr -d '"' | sort -u)
# The scan must at least find the variables known when this test was written.
for known in UWSK_ENGINE UWSK_LOOPS UWSK_DBG_LEVEL UWSK_BREAK UWSK_ASSERT UWSK_PROVIDER_READY_DELAY_MS; do
  grep -qx "$known" <<<"$read_names" || fail "the scan of the sources did not find $known"
done

help_environment=$("$uwsk_run" --help | sed -n '/^Environment/,$p')
[ -n "$help_environment" ] || fail "uwsk-run --help has no Environment section"
man_environment=$(sed -n '/^\.SH ENVIRONMENT/,/^\.SH /p' "$man_page")
[ -n "$man_environment" ] || fail "$man_page has no ENVIRONMENT section"

status=0
for name in $read_names; do
  if ! grep -qw -- "$name" <<<"$help_environment"; then
    echo "environment_doc_test: uwsk-run --help does not document $name" >&2
    status=1
  fi
  if ! grep -qw -- "$name" <<<"$man_environment"; then
    echo "environment_doc_test: the man page does not document $name" >&2
    status=1
  fi
  if ! grep -q -- "^| \`$name[=\`]" "$source/README.md"; then
    echo "environment_doc_test: README.md's table of environment variables does not document $name" >&2
    status=1
  fi
done
while read -r documented; do
  if ! grep -qx "$documented" <<<"$read_names"; then
    echo "environment_doc_test: $documented is documented, but no source reads it" >&2
    status=1
  fi
done < <(grep -ohE '\bUWSK_[A-Z0-9_]+' <<<"$help_environment$man_environment" | sort -u)
[ "$status" -eq 0 ] || exit 1

if command -v groff >/dev/null; then
  warnings=$(groff -man -Tutf8 -ww -z "$man_page" 2>&1)
  [ -z "$warnings" ] || fail "groff warns about $man_page: $warnings"
fi
echo "environment_doc_test: --help, uwsk-run(1) and README.md document $(tr '\n' ' ' <<<"$read_names")"
