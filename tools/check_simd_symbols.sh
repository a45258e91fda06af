#!/bin/sh
# Each per-instruction-set object (tensor/cpu/simd/, tools/cmake/simd_kernels.cmake) must define
# exactly one global symbol, its kernel table, and no weak one: a weak (inline / template) symbol
# could be the copy the linker keeps for every caller, and run AVX-512 code on a CPU without it.
# Usage: check_simd_symbols.sh OBJECT...
status=0
for object in "$@"; do
    globals=$(nm --defined-only --extern-only "$object" | awk '{print $2 " " $3}')
    count=$(printf '%s\n' "$globals" | grep -c .)
    weak=$(printf '%s\n' "$globals" | grep -E '^[VvWwu] ' || true)
    if [ "$count" -ne 1 ] || [ -n "$weak" ]; then
        echo "$object: expected one global symbol (the kernel table), found:" >&2
        printf '%s\n' "$globals" >&2
        status=1
    fi
done
exit $status
