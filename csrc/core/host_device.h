// Marks the per-pair and per-triplet math so that one definition serves the CPU
// driver and (when built with NNPKIT_WITH_CUDA) the CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define NNPKIT_HD __host__ __device__ __forceinline__
#else
#define NNPKIT_HD inline
#endif
