#!/usr/bin/env bash
# install_test.sh BUILD_DIR: installs uwsk into a temporary prefix, then builds a driver against
# the installed files twice — with pkg-config (as the README shows) and with find_package(uwsk)
# from a separate CMake project — and runs both under the installed uwsk-run.
set -euo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT

cmake --install "$build" --prefix "$prefix" >/dev/null
# The .pc file carries the configured prefix; re-point it at this temporary one.
pc_dir=$(dirname "$(find "$prefix" -name uwsk-driver.pc | head -n1)")
configured=$(sed -n 's/^Cflags: -I\(.*\)\/include\/uwsk\/wdk .*/\1/p' "$pc_dir/uwsk-driver.pc")
sed -i "s|$configured|$prefix|g" "$pc_dir/uwsk-driver.pc"

cp "$here/drivers/hello_c.c" "$prefix/drv.c"
cc -shared -fPIC "$prefix/drv.c" $(PKG_CONFIG_LIBDIR="$pc_dir" pkg-config --cflags --libs uwsk-driver) -o "$prefix/drv.so"
"$prefix/bin/uwsk-run" --strict --unload-after 0 "$prefix/drv.so"

cmake -S "$here/install_consumer" -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer" >/dev/null
"$prefix/bin/uwsk-run" --strict --unload-after 0 "$(find "$prefix/consumer" -name consumer_driver.so)"
echo "install_test: pkg-config and find_package drivers built and ran against the installed uwsk"
