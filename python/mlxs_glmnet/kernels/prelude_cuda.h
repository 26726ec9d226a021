// CUDA prelude for path.kern (used as the `header` of mx.fast.cuda_kernel).
// One thread block per problem; the block size must be a multiple of 32, at most 1024.
typedef float real_t;
#define K_BLOCK ((int)blockIdx.x)
#define K_TID ((int)threadIdx.x)
#define K_NT ((int)blockDim.x)
#define K_SYNC() __syncthreads()
#define K_FOR(i, n) for (int i = K_TID; i < (n); i += K_NT)
#define K_PROGRESS() ((void)0)
// Block-wide sum: warp shuffles, one shared slot per warp, three barriers.
__device__ inline float k_block_sum(float v) {
  __shared__ float wsum[32];
  __shared__ float total;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
  __syncthreads();                       /* readers of the previous total are done */
  if (lane == 0) wsum[wid] = v;
  __syncthreads();
  if (wid == 0) {
    v = (lane < (int)(blockDim.x >> 5)) ? wsum[lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}
#define K_RED(v) k_block_sum(v)
__device__ inline float k_dot(const float* a, const float* b, int n) {
  float s = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += a[i] * b[i];
  return k_block_sum(s);
}
__device__ inline void k_upd(float* r, const float* v, const float* x, float c1, float c0, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) r[i] -= c1 * v[i] * (x[i] - c0);
}
__device__ inline void k_axpyc(float* e, const float* x, float c1, float c0, int n) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) e[i] += c1 * (x[i] - c0);
}
__device__ inline void k_wsums(const float* v, const float* x, int n, float* a, float* c) {
  float sa = 0.f, sc = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float t = v[i] * x[i];
    sa += t * x[i];
    sc += t;
  }
  *a = k_block_sum(sa);
  *c = k_block_sum(sc);
}
// At most 512 threads a block (gpu.THREADS): declared to the compiler, so that it keeps the kernel
// within 128 registers a thread. Without the bound NVRTC gave it 132 (nvcc -Xptxas -v, sm_90), a
// 512-thread block no longer fitted, gpu._launch fell back to 384 threads, and the naive binomial
// path at n = 1e4, p = 100 took 330 ms instead of 270 ms (H200). MLX writes the kernel's signature
// itself, after this header: its `__global__` is the one place to attach the bound.
#undef __global__
#define __global__ __location__(global) __launch_bounds__(512)
