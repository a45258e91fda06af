# pixelgrad's front door. All build logic lives in CMakeLists.txt; these targets only drive it.
#   make          build everything (installs missing Debian packages first)
#   make test     build and run every test with ctest
#   make test-gpu the whole suite with PG_REQUIRE_GPU=1 (a skipped GPU test fails)
#   make test-numerics  the training-outcome tests under several OpenBLAS kernel sets
#   make test-asan      the CPU suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz           libFuzzer on the file readers, 10 minutes each (make fuzz-smoke: 30 s each)
#   make bench    build and run the benchmarks
#   make demo     synthetic world -> train on few / all labels -> evaluate -> table (CPU, minutes)
#   make demo-ripu  RIPU on source / target synthetic worlds: source only, random, RA (CPU, ~10 min)
#   make demo-gat   GAT label-noise correction on the synthetic world: stages, final models (CPU, ~8 min)
#   make deps     install missing build dependencies (Debian packages)
#   make format   apply .clang-format to every source file
#   make clean    remove the build folder
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-gpu test-numerics test-asan fuzz fuzz-smoke bench demo demo-ripu demo-gat format clean

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

# The whole CPU suite built with ASan + UBSan (build-asan/, -O1, no CUDA, no benchmarks): any
# memory error, leak or undefined behaviour fails its test.
ASAN_BUILD ?= build-asan
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPG_SANITIZE=address,undefined \
	  -DPG_WITH_CUDA=OFF -DPG_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g"
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Coverage-guided fuzzing (clang + libFuzzer + ASan/UBSan, build-fuzz/): safetensors, PNG/JPEG and
# palette labels, the YAML config layer with --set, the training-state reader (tools/fuzz.sh).
FUZZ_SECONDS ?= 600
fuzz: deps
	JOBS=$(JOBS) tools/fuzz.sh $(FUZZ_SECONDS)
fuzz-smoke: deps
	FUZZ_SEED=1 FUZZ_RUNS=smoke JOBS=$(JOBS) tools/fuzz.sh 120

bench: build
	$(BUILD)/pg_bench --benchmark_counters_tabular=true

demo: build
	BUILD=$(BUILD) tools/demo.sh

demo-ripu: build
	BUILD=$(BUILD) tools/demo_ripu.sh

demo-gat: build
	BUILD=$(BUILD) tools/demo_gat.sh

format:
	clang-format -i $$(git ls-files '*.h' '*.cpp' '*.cu' '*.cuh')

clean:
	rm -rf $(BUILD)
