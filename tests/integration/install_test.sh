#!/usr/bin/env bash
# install_test.sh BUILD_DIR: installing and uninstalling uwsk.
#  1. `make install PREFIX=DIR` installs into DIR, whatever prefix BUILD_DIR was configured with.
#  2. Installed into a temporary prefix (`cmake --install --prefix`, what make install runs),
#     uwsk builds drivers with pkg-config and with find_package(uwsk) from a separate CMake
#     project, which run under the installed uwsk-run (installed_tree.sh); no installed text
#     file names the build or source tree or another prefix; `make uninstall PREFIX=DIR`
#     leaves nothing behind, not even the prefix it created.
#  3. Installed with DESTDIR into a prefix that holds other software, then used from there (the
#     tree is relocatable); uninstalling removes uwsk and keeps everything else as it was.
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source=$(cd "$here/../.." && pwd)
# shellcheck source=tests/integration/installed_tree.sh
. "$here/installed_tree.sh"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Nothing from the calling make or shell steers the installs below.
unset DESTDIR MAKEFLAGS MFLAGS MAKELEVEL

# 1. The prefix reaches cmake --install (before, the build cache's prefix did).
make -n -s -C "$source" install BUILD="$build" PREFIX="$work/elsewhere" 2>/dev/null |
  grep -qF -- "cmake --install $build --prefix $work/elsewhere" ||
  fail "make install PREFIX=... does not pass the prefix to cmake --install"

# 2. A prefix of its own.
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || fail "$(cat "$work/install.log")"
# (The documentation may mention /usr/local; the files a build reads may not.)
if grep -rIl -e "$build" -e "$source" -e /usr/local "$prefix/bin" "$prefix/include" "$prefix/lib" \
  "$prefix/share/uwsk" >"$work/mentions"; then
  fail "installed files name the build tree, the source tree or /usr/local: $(cat "$work/mentions")"
fi
check_installed_tree "$prefix" "$version" "$work"
make -s -C "$source" uninstall PREFIX="$prefix" >"$work/uninstall.log" || fail "$(cat "$work/uninstall.log")"
[ ! -e "$prefix" ] || fail "left after make uninstall: $(find "$prefix")"

# 3. DESTDIR, a prefix shared with other software, and the tree used where it was staged.
stage=$work/stage
mkdir -p "$stage/usr/local/bin" "$stage/usr/local/lib/pkgconfig" "$stage/usr/local/share/man/man1"
touch "$stage/usr/local/bin/other-tool" "$stage/usr/local/lib/pkgconfig/other.pc"
(cd "$stage" && find . | sort) >"$work/before"
DESTDIR=$stage cmake --install "$build" --prefix /usr/local >"$work/install.log" || fail "$(cat "$work/install.log")"
mkdir "$work/staged"
check_installed_tree "$stage/usr/local" "$version" "$work/staged"
make -s -C "$source" uninstall DESTDIR="$stage" PREFIX=/usr/local >"$work/uninstall.log" ||
  fail "$(cat "$work/uninstall.log")"
(cd "$stage" && find . | sort) >"$work/after"
diff -u "$work/before" "$work/after" >&2 || fail "make uninstall did not restore the shared prefix"
echo "install_test: uwsk $version installed, built drivers with pkg-config and find_package, ran them, and uninstalled without a trace"
