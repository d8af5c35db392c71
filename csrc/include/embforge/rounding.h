// Arithmetic that must round exactly like the CPU's, also in device code
// compiled with --use_fast_math (which the CUDA module is: CMakeLists.txt).
//
// Under --use_fast_math nvcc turns a float division a / b into the
// approximate div.approx (and 1.0f / b into rcp.approx), up to 1-2 ulp off
// the correctly rounded quotient. Where a result must be the CPU's bit for bit
// (the initial weights: "same init as the CPU"), the division is written with
// these helpers, which use the round-to-nearest intrinsics on the device and
// IEEE division on the host. Everywhere else approximation is intended and
// kept: CBOW's 1/n_contexts, the sigmoid, GloVe's AdaGrad step (the GPU's
// training is not the CPU's bit for bit anyway: Hogwild order differs).
// tests/test_cuda_ptx.py checks the init kernels' PTX for approximate division.
#pragma once

#include "embforge/hd.h"

namespace embforge {

// 1 / x, correctly rounded (round to nearest even).
EMBFORGE_HD float reciprocal_rn(float x) {
#if defined(__CUDA_ARCH__)
  return __frcp_rn(x);
#else
  return 1.0f / x;
#endif
}

// x * y, correctly rounded, never fused with a neighbouring add (the
// product of an exact init and a scale: FastText's initial rows).
EMBFORGE_HD float multiply_rn(float x, float y) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(x, y);
#else
  return x * y;
#endif
}

}  // namespace embforge
