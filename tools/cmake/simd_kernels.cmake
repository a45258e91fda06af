# The CPU kernels pixelgrad vectorises itself (tensor/cpu/simd/: the direct convolution, batch
# normalisation's loops, softmax's exps), compiled once per instruction set (the same sources with other
# instruction-set flags, vector width and table-name suffix) and added to `target`;
# tensor/cpu/simd_path.h picks one at start-up. Extra arguments are compile options for
# all three (the OpenMP flag; sanitizers come from the directory's options).
#
# Each build is x86-64-v2 plus exactly the features tensor/cpu/simd_path.cpp checks before it
# runs that build (a whole -march=x86-64-v3 would also let the compiler use BMI2, LZCNT or F16C).
function(pg_add_simd_build target root name lanes registers suffix)
  set(objects ${target}_simd_${name})
  add_library(${objects} OBJECT ${root}/tensor/cpu/simd/conv_direct_kernels.cpp
    ${root}/tensor/cpu/simd/batch_norm_kernels.cpp ${root}/tensor/cpu/simd/softmax_kernels.cpp)
  target_include_directories(${objects} PRIVATE ${root} ${CMAKE_BINARY_DIR}/generated)
  target_compile_options(${objects} PRIVATE ${PG_SIMD_COMMON_OPTIONS} -march=x86-64-v2 ${ARGN}
    -O3 -ffp-contract=fast -fno-trapping-math -mprefer-vector-width=512)
  target_compile_definitions(${objects} PRIVATE PG_SIMD_LANES=${lanes}
    PG_SIMD_REGISTERS=${registers} PG_SIMD_SUFFIX=${suffix})
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:${objects}>)
endfunction()

function(pg_add_simd_kernels target root)
  set(PG_SIMD_COMMON_OPTIONS ${ARGN})
  pg_add_simd_build(${target} ${root} sse42 4 16 Sse42)
  pg_add_simd_build(${target} ${root} avx2 8 16 Avx2 -mavx2 -mfma -mtune=haswell)
  pg_add_simd_build(${target} ${root} avx512 16 32 Avx512 -mavx2 -mfma -mavx512f
    -mavx512bw -mavx512dq -mavx512vl -mtune=skylake-avx512)
endfunction()
