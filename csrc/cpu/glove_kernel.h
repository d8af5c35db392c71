// The epoch loop of glove.cpp for callers that train an epoch in pieces
// (glove_blocks.cpp: one block at a time).
#pragma once

#include <cstdint>

#include "embforge/glove.h"

namespace embforge {

// Trains pairs[order[0..n)] like train_glove_epoch, but adds to `progress`
// (not null) instead of resetting it first.
GloveEpochStats train_glove_range(const GloveParams& params, const glove::Pair* pairs,
                                  const uint32_t* order, int64_t n, const GloveModel& model,
                                  Progress* progress);

}  // namespace embforge
