#!/usr/bin/env bash
# version_test.sh SOURCE_DIR BUILD_DIR VERSION UWSK_RUN: the version of project(uwsk VERSION ...)
# is the one uwsk-run --version prints, and the one in uwsk/version.h, both uwsk-driver.pc files,
# the CMake package version file, the man page and the Debian package's settings; CHANGELOG.md
# has a section for it; and no other source file spells it out (one source of truth).
set -euo pipefail
source=$1
build=$2
version=$3
uwsk_run=$4
fail() {
  echo "version_test: $*" >&2
  exit 1
}
IFS=. read -r major minor patch <<<"$version"

[ "$("$uwsk_run" --version)" = "uwsk-run $version" ] ||
  fail "uwsk-run --version prints '$("$uwsk_run" --version)'"
header=$build/include/uwsk/version.h
grep -qx "#define UWSK_VERSION_STRING \"$version\"" "$header" || fail "$header: wrong UWSK_VERSION_STRING"
grep -qx "#define UWSK_VERSION_MAJOR $major" "$header" || fail "$header: wrong UWSK_VERSION_MAJOR"
grep -qx "#define UWSK_VERSION_MINOR $minor" "$header" || fail "$header: wrong UWSK_VERSION_MINOR"
grep -qx "#define UWSK_VERSION_PATCH $patch" "$header" || fail "$header: wrong UWSK_VERSION_PATCH"
for pc in "$build/uwsk-driver.pc" "$build/install/uwsk-driver.pc"; do
  grep -qx "Version: $version" "$pc" || fail "$pc does not say Version: $version"
done
grep -q "set(PACKAGE_VERSION \"$version\")" "$build/uwskConfigVersion.cmake" ||
  fail "uwskConfigVersion.cmake is not for $version"
grep -q "^\.TH UWSK-RUN 1 .*\"uwsk $version\"" "$build/man/uwsk-run.1" || fail "the man page is not for $version"
grep -q "set(CPACK_PACKAGE_VERSION \"$version\")" "$build/CPackConfig.cmake" ||
  fail "CPackConfig.cmake does not package $version"
grep -qx "## $version" "$source/CHANGELOG.md" || fail "CHANGELOG.md has no '## $version' section"

# The version is written in the project() call and nowhere else that builds or installs uwsk.
# (As a number of its own: 0.1.0 but not 10.0.1.0.)
pattern="(^|[^0-9.])${version//./\\.}([^0-9.]|\$)"
mentions=$(grep -rnE "$pattern" "$source/CMakeLists.txt" "$source/Makefile" "$source/cmake" \
  "$source/tools" "$source/include" "$source/src" "$source/docs/uwsk-run.1.in" || true)
if [ "$(wc -l <<<"$mentions")" -ne 1 ] || ! grep -q "project(uwsk VERSION $version " <<<"$mentions"; then
  fail "the version is written outside project(uwsk VERSION ...): $mentions"
fi
echo "version_test: uwsk $version everywhere, from one place"
