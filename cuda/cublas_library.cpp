// Opens cuBLAS with dlopen() and binds the functions of cuda/cublas_library.h. The library's
// soname (libcublas.so.<major> of the headers built against) is looked up the loader's way first
// (LD_LIBRARY_PATH, the binary's run path, ld.so.cache), then in the toolkit found at build time.
#include "cuda/cublas_library.h"

#include <dlfcn.h>

#include "tensor/error.h"

#ifndef PG_CUDA_LIBRARY_DIR
#define PG_CUDA_LIBRARY_DIR ""
#endif

namespace pg::cuda {
namespace {

struct Opened {
    CublasLibrary functions;
    std::string error; // empty once opened
};

template <typename F>
void bind(void* handle, const char* symbol, F& out, std::string& error) {
    out = reinterpret_cast<F>(dlsym(handle, symbol));
    if (out == nullptr && error.empty()) error = str("no symbol ", symbol, " in it");
}

Opened open_cublas() {
    Opened opened;
    const std::string soname = str("libcublas.so.", CUBLAS_VER_MAJOR);
    const std::string fallback = str(PG_CUDA_LIBRARY_DIR, "/", soname);
    void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) handle = dlopen(fallback.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        opened.error = str("cannot open cuBLAS (", soname, ", then ", fallback, "): ", dlerror());
        return opened;
    }
    CublasLibrary& f = opened.functions;
    std::string& e = opened.error;
    // The exported names: cublas_v2.h maps cublasCreate / cublasSetStream to their _v2 versions.
    bind(handle, "cublasCreate_v2", f.create, e);
    bind(handle, "cublasSetStream_v2", f.set_stream, e);
    bind(handle, "cublasSgeam", f.sgeam, e);
    bind(handle, "cublasGemmStridedBatchedEx", f.gemm_strided_batched_ex, e);
    bind(handle, "cublasGetProperty", f.get_property, e);
    if (!e.empty()) e = str("cuBLAS (", soname, "): ", e);
    return opened; // the handle stays open for the life of the process
}

const Opened& opened() {
    static const Opened the_library = open_cublas(); // thread-safe, once
    return the_library;
}

} // namespace

const CublasLibrary& cublas_library() {
    PG_CHECK(opened().error.empty(), opened().error);
    return opened().functions;
}

bool cublas_library_available(std::string* why) {
    if (why) *why = opened().error;
    return opened().error.empty();
}

} // namespace pg::cuda
