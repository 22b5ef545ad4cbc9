// The CUDA device queries of the fused kernels (fused.h).
#include <cuda_runtime.h>

#include "engine/kernels/fused.h"

namespace sweepfarm::engine::kernels {

size_t DeviceSmemLimit() {
  int device = 0, bytes = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 0;
  if (cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
      cudaSuccess) {
    return 0;
  }
  return static_cast<size_t>(bytes);
}

}  // namespace sweepfarm::engine::kernels
