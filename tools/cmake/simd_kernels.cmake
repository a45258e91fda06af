# The CPU kernels pixelgrad vectorises itself (tensor/cpu/simd/), compiled once per instruction set
# (the same source with another -march, vector width and table name) and added to `target`;
# tensor/cpu/simd_path.h picks one at start-up. Extra arguments are compile options for all three
# (the OpenMP flag, sanitizers come from the directory's options).
function(pg_add_simd_kernels target root)
  foreach(simd "sse42;x86-64-v2;4;16;kDirectConvSse42" "avx2;x86-64-v3;8;16;kDirectConvAvx2"
          "avx512;skylake-avx512;16;32;kDirectConvAvx512")
    list(GET simd 0 name)
    list(GET simd 1 march)
    list(GET simd 2 lanes)
    list(GET simd 3 registers)
    list(GET simd 4 table)
    set(objects ${target}_simd_${name})
    add_library(${objects} OBJECT ${root}/tensor/cpu/simd/conv_direct_kernels.cpp)
    target_include_directories(${objects} PRIVATE ${root} ${CMAKE_BINARY_DIR}/generated)
    target_compile_options(${objects} PRIVATE ${ARGN} -march=${march} -O3 -ffp-contract=fast
      -fno-trapping-math -mprefer-vector-width=512)
    target_compile_definitions(${objects} PRIVATE PG_SIMD_LANES=${lanes}
      PG_SIMD_REGISTERS=${registers} PG_SIMD_TABLE=${table})
    target_sources(${target} PRIVATE $<TARGET_OBJECTS:${objects}>)
  endforeach()
endfunction()
