#!/bin/sh
# Each per-instruction-set object (tensor/cpu/simd/, tools/cmake/simd_kernels.cmake) must define
# no global code and no weak symbol, only data: its kernel table (kDirectConv* from
# conv_direct_kernels, kBatchNorm* from batch_norm_kernels, kSoftmax* from softmax_kernels;
# AddressSanitizer adds its ODR markers).
# A global or weak function (an inline function, a template instantiation) could be the copy the
# linker keeps for every caller, and run AVX-512 code on a CPU without it.
# Usage: check_simd_symbols.sh OBJECT...
status=0
for object in "$@"; do
    case "$object" in
    *batch_norm_kernels*) expected=kBatchNorm ;;
    *softmax_kernels*) expected=kSoftmax ;;
    *) expected=kDirectConv ;;
    esac
    globals=$(nm --defined-only --extern-only "$object" | awk '{print $2 " " $3}')
    code_or_weak=$(printf '%s\n' "$globals" | grep -E '^[TtiVvWwu] ' || true)
    table=$(printf '%s\n' "$globals" | grep -E "^D .*${expected}(Sse42|Avx2|Avx512)" || true)
    if [ -n "$code_or_weak" ] || [ -z "$table" ]; then
        echo "$object: expected only data (the ${expected} table), found:" >&2
        printf '%s\n' "$globals" >&2
        status=1
    fi
done
exit $status
