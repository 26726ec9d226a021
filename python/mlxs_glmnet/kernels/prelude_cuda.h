// CUDA prelude for path.kern (used as the `header` of mx.fast.cuda_kernel).
// One thread block per problem; K_NT must be a power of two no larger than 1024.
typedef float real_t;
#define K_BLOCK ((int)blockIdx.x)
#define K_TID ((int)threadIdx.x)
#define K_NT ((int)blockDim.x)
#define K_SYNC() __syncthreads()
#define K_SIMD_SUM(...)
#define K_PROGRESS() ((void)0)
__device__ inline float k_block_sum(float v) {
  __shared__ float red[1024];
  const int t = threadIdx.x;
  __syncthreads();
  red[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) red[t] += red[t + s];
    __syncthreads();
  }
  return red[0];
}
#define K_RED(v) k_block_sum(v)
