# Environment for sweepfarm processes on a CPU host (sourced by demo.sh and test.sh).
# OpenBLAS's own threads fight LibTorch's for the cores: keep it single-threaded.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
# Large tensors are freed and reallocated every training step; without these, glibc returns them
# to the kernel each time and page faults dominate (measured: system time 20 s -> 0.2 s).
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-4294967296}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-4294967296}
