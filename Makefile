# uwsk - the two commands of the README, and the rest of the developer workflow.
#
#   make demo       install what is missing, build, run the example driver under uwsk-run
#   make test       install what is missing, build, run the whole suite (dev, then ASan+UBSan,
#                   then TSan on the threaded tests)
#   make install    install into PREFIX (default /usr/local; DESTDIR is honoured)
#   make uninstall  remove what make install put into PREFIX
#   make package    build the Debian package (build-package/uwsk_VERSION-1_ARCH.deb)
#   make bench      build with the release preset and run the benchmark suite (bench/README.md);
#                   results in BUILD-release/bench-results, or bench/results with UPDATE_RESULTS=1

BUILD      ?= build
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# Tests mostly wait on sockets, peers and child processes: with twice as many tests as cores at
# once the suite kept about 1.5 of 2 cores busy and took a quarter less time (the tests that
# load the machine hold the CTest resource lock uwsk_load, so no two of them run at once:
# tests/CMakeLists.txt).
TEST_JOBS  ?= $(shell echo $$(( $(JOBS) * 2 )))
PREFIX     ?= /usr/local
CMAKE_ARGS ?=
UPDATE_RESULTS ?= 0

.PHONY: all deps build demo test test-dev test-asan test-tsan install uninstall package clean \
	format bench

all: build

deps:
	@scripts/install-deps.sh

# The configurations are the CMake presets (CMakePresets.json): dev, asan, tsan, release.
$(BUILD)/CMakeCache.txt: | deps
	cmake --preset dev -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

test-dev: build
	cd $(BUILD) && ctest --output-on-failure -j$(TEST_JOBS) --timeout 120

test-asan: deps
	cmake --preset asan -B $(BUILD)-asan $(CMAKE_ARGS)
	cmake --build $(BUILD)-asan -j$(JOBS)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j$(TEST_JOBS) --timeout 180

# The whole suite again under ThreadSanitizer. By default ThreadSanitizer sleeps a second in
# every process's exit (atexit_sleep_ms=1000) so that threads still running can race with it; the
# suite starts well over a thousand processes, so that second was most of its time. uwsk joins
# its threads before exit; 50 ms keeps a window for any that does not.
TSAN_TEST_OPTIONS = halt_on_error=1:second_deadlock_stack=1:atexit_sleep_ms=50
test-tsan: deps
	cmake --preset tsan -B $(BUILD)-tsan $(CMAKE_ARGS)
	cmake --build $(BUILD)-tsan -j$(JOBS)
	cd $(BUILD)-tsan && TSAN_OPTIONS=$(TSAN_TEST_OPTIONS) \
		ctest --output-on-failure -j$(TEST_JOBS) --timeout 180

test: test-dev test-asan test-tsan

# The benchmark suite (bench/README.md): a release build, every workload on every server, the
# table in $(BUILD)-release/bench-results/latest.md; UPDATE_RESULTS=1 writes bench/results/.
bench: deps
	UPDATE_RESULTS=$(UPDATE_RESULTS) bench/run.sh $(BUILD)-release

# The prefix is given at install time, so it is the one asked for even when the build directory
# was configured earlier with another (the installed files do not depend on it).
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Uses the record the installation keeps in PREFIX/share/uwsk, so it needs no build directory
# and removes exactly what was installed there.
uninstall:
	@script="$(DESTDIR)$(PREFIX)/share/uwsk/uninstall.cmake"; \
	if [ ! -f "$$script" ]; then \
	  echo "make uninstall: no uwsk is installed in $(DESTDIR)$(PREFIX) ($$script does not exist)" >&2; \
	  exit 1; \
	fi; \
	cmake -P "$$script"

# The Debian package: a release build, configured for /usr, of what the package holds (the
# library, uwsk-run and its man page), then CPack (cmake/package.cmake). Warnings are not errors
# here: a package build should not fail on a warning that a newer compiler adds.
package: deps
	cmake --preset release -B $(BUILD)-package -DCMAKE_INSTALL_PREFIX=/usr -DUWSK_WERROR=OFF \
		-DUWSK_BUILD_TESTS=OFF -DUWSK_BUILD_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD)-package -j$(JOBS) --target uwsk uwsk-run uwsk-run-man
	cd $(BUILD)-package && cpack -G DEB
	@ls -1 $(BUILD)-package/*.deb

format:
	find include src tools tests examples -name '*.[ch]' -o -name '*.[ch]pp' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-package
