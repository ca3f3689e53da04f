#include "models/residual.h"

#include <vector>

#include "core/error.h"
#include "core/ops.h"

namespace whet::models {

Tensor ResidualBlock::drop_branch(const Tensor& branch) const {
  if (drop_path == 0 || !is_training()) return branch;
  // One keep-or-drop per sample: dropout of a (N, 1, ..., 1) ones tensor gives 0 or
  // 1 / (1 - p) per row, broadcast over the sample. Its counters are the batch's rows, so
  // data parallelism and micro-batches draw one process's choices (core/rng.h).
  Shape rows(size_t(branch.dim()), 1);
  rows[0] = branch.size(0);
  return branch * dropout(ones(rows, branch.dtype(), branch.device()), drop_path, true);
}

int set_drop_path(nn::Module& model, double rate) {
  WHET_CHECK(rate >= 0 && rate < 1, "drop path rate must be in [0, 1), got ", rate);
  std::vector<ResidualBlock*> blocks;
  for (auto& [path, m] : model.named_modules())
    if (auto* b = dynamic_cast<ResidualBlock*>(m)) blocks.push_back(b);
  const size_t n = blocks.size();
  for (size_t i = 0; i < n; ++i) blocks[i]->drop_path = n > 1 ? rate * double(i) / double(n - 1) : rate;
  return int(n);
}

}  // namespace whet::models
