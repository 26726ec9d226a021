// CPU prelude for path.kern: one thread per block, blocks spread over host threads.
#pragma once
#include <atomic>
#include <cmath>
#include <cstddef>

namespace mlxs_glmnet {
inline std::atomic<long> g_progress{0};
}
#define K_TID 0
#define K_NT 1
#define K_SYNC() ((void)0)
#define K_RED(v) (v)
#define K_PRAGMA_(x) _Pragma(#x)
#define K_SIMD_SUM(...) K_PRAGMA_(omp simd reduction(+ : __VA_ARGS__))
#define K_PROGRESS() (::mlxs_glmnet::g_progress.fetch_add(1, std::memory_order_relaxed))
