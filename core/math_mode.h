// Process-wide math modes for matrix work (GEMM and convolution) on CUDA.
//
// allow_tf32: float32 GEMM and conv may run on TF32 tensor cores (10-bit mantissa inputs,
// float32 accumulation), as torch.backends.cuda.matmul.allow_tf32 and
// torch.backends.cudnn.allow_tf32 do. Off by default, so float32 means float32 and CUDA results
// stay comparable with the CPU at float32 tolerances; `--precision tf32` turns it on.
#pragma once

namespace whet {

bool allow_tf32();
void set_allow_tf32(bool allow);

}  // namespace whet
