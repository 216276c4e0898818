#!/usr/bin/env bash
# package_test.sh BUILD_DIR: the Debian package (cmake/package.cmake), made by CPack from the
# build under test as `make package` makes it from a release build:
#  - its name, version (the project's, release 1) and dependencies, which must all be installed
#    here with a version the package accepts (so it installs on this Debian release);
#  - its contents: library, uwsk-run, headers, pkg-config file, CMake package, man page, docs and
#    the copyright file naming the licence, and no uninstall record (dpkg keeps the record);
#  - unpacked into a temporary root (dpkg-deb -x), drivers build against it with pkg-config and
#    with find_package(uwsk) and run under its uwsk-run (installed_tree.sh).
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/installed_tree.sh
. "$here/installed_tree.sh"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt"
for tool in cpack dpkg-deb dpkg-shlibdeps dpkg-query; do
  command -v "$tool" >/dev/null || fail "$tool is missing (Debian: apt-get install cmake dpkg-dev)"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset DESTDIR

cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1 ||
  fail "cpack failed: $(cat "$work/cpack.log")"
arch=$(dpkg --print-architecture)
deb=$work/out/uwsk_${version}-1_${arch}.deb
[ -f "$deb" ] || fail "no $deb; cpack made: $(ls "$work/out")"

# The control fields.
[ "$(dpkg-deb -f "$deb" Package)" = uwsk ] || fail "the package is not called uwsk"
[ "$(dpkg-deb -f "$deb" Version)" = "$version-1" ] || fail "the package's version is not $version-1"
depends=$(dpkg-deb -f "$deb" Depends)
for needed in libc6 liburing2 libstdc++6 python3; do
  grep -q "\b$needed\b" <<<"$depends" || fail "Depends ($depends) does not name $needed"
done
# Each dependency (a single package, optionally with a version, as dpkg-shlibdeps writes them)
# is installed here in a version that satisfies it.
IFS=',' read -r -a relations <<<"$depends"
for relation in "${relations[@]}"; do
  relation=$(sed 's/^ *//; s/ *$//' <<<"$relation")
  name=${relation%% *}
  installed=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null) ||
    fail "dependency $name is not installed here"
  if [[ $relation =~ \(([<>=]+)\ *([^\)]+)\) ]]; then
    case ${BASH_REMATCH[1]} in
    '>=') op=ge ;; '<=') op=le ;; '=') op=eq ;; '>>') op=gt ;; '<<') op=lt ;;
    *) fail "unexpected relation in '$relation'" ;;
    esac
    dpkg --compare-versions "$installed" "$op" "${BASH_REMATCH[2]}" ||
      fail "dependency '$relation' not satisfied by the installed $name $installed"
  fi
done

# The contents.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./||' >"$work/contents"
for pattern in 'usr/bin/uwsk-run$' 'usr/bin/uwsk-tracewpp$' 'usr/include/uwsk/wpp\.h$' \
  'usr/lib/(.*/)?libuwsk\.so\.0$' 'usr/lib/(.*/)?libuwsk\.so$' \
  'usr/include/uwsk/version\.h$' 'usr/include/uwsk/host\.h$' 'usr/include/uwsk/wdk/wsk\.h$' \
  'usr/include/uwsk/wdk/km/io\.h$' 'usr/lib/(.*/)?pkgconfig/uwsk-driver\.pc$' \
  'usr/lib/(.*/)?cmake/uwsk/uwskConfig\.cmake$' 'usr/lib/(.*/)?cmake/uwsk/uwskConfigVersion\.cmake$' \
  'usr/lib/(.*/)?cmake/uwsk/driver\.map$' 'usr/share/man/man1/uwsk-run\.1\.gz$' \
  'usr/share/doc/uwsk/copyright$' 'usr/share/doc/uwsk/README\.md$' \
  'usr/share/doc/uwsk/CHANGELOG\.md$' 'usr/share/doc/uwsk/design\.md$' \
  'usr/share/uwsk/valgrind\.supp$' 'usr/bin/uwsk-trace-svg$' 'usr/include/uwsk/trace\.h$'; do
  grep -Eq "^$pattern" "$work/contents" || fail "the package has no file matching $pattern"
done
if grep -E 'share/uwsk/.*(install|manifest)|/LICENSE$' "$work/contents"; then
  fail "the package holds an uninstall record or a LICENSE besides the copyright file"
fi

# Unpacked, as dpkg would install it, and used from there.
dpkg-deb -x "$deb" "$work/root"
grep -q '^License: Apache-2.0$' "$work/root/usr/share/doc/uwsk/copyright" ||
  fail "the copyright file does not name the Apache-2.0 licence"
mkdir "$work/use"
check_installed_tree "$work/root/usr" "$version" "$work/use"
echo "package_test: $(basename "$deb") (Depends: $depends) holds uwsk $version; drivers built against it with pkg-config and find_package ran under its uwsk-run"
