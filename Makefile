# pixelgrad's front door. All build logic lives in CMakeLists.txt; these targets only drive it.
#   make          build everything (installs missing Debian packages first)
#   make test     build and run every test with ctest
#   make test-gpu the whole suite with PG_REQUIRE_GPU=1 (a skipped GPU test fails)
#   make test-numerics  the training-outcome tests under several OpenBLAS kernel sets
#   make bench    build and run the benchmarks
#   make demo     synthetic world -> train on few / all labels -> evaluate -> table (CPU, minutes)
#   make deps     install missing build dependencies (Debian packages)
#   make format   apply .clang-format to every source file
#   make clean    remove the build folder
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-gpu test-numerics bench demo format clean

all: build

deps:
	@tools/install_deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Tests run one process per core, each single-threaded.
test: build
	cd $(BUILD) && OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -j $(JOBS)

# On a GPU machine: every CUDA case must run (PG_REQUIRE_GPU=1 turns a skip into a failure).
test-gpu: build
	cd $(BUILD) && PG_REQUIRE_GPU=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -j $(JOBS)

# Training outcomes must hold whichever kernels OpenBLAS picks on the CPU at hand.
# CORETYPES="Haswell Nehalem" narrows the set; SEEDS="0 1 2" also varies the seed.
CORETYPES ?= Haswell Sandybridge Nehalem Prescott
test-numerics: build
	BUILD=$(BUILD) tools/test_numerics.sh $(CORETYPES)

bench: build
	$(BUILD)/pg_bench --benchmark_counters_tabular=true

demo: build
	BUILD=$(BUILD) tools/demo.sh

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu' '*.cuh')

clean:
	rm -rf $(BUILD)
