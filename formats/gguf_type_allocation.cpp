#include "formats/gguf_type_allocation.h"

#include <algorithm>

namespace mp {

namespace {

using Choice = std::vector<size_t>;

// Each tensor's argmin of loss + λ·bytes; ties go to fewer bytes so that λ → ∞ gives the smallest mix.
Choice lagrangian_choice(const std::vector<AllocatableTensor>& tensors, double lambda) {
  Choice choice(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    const auto& c = tensors[t].candidates;
    size_t best = 0;
    for (size_t k = 1; k < c.size(); ++k) {
      const double cost = c[k].loss + lambda * static_cast<double>(c[k].bytes);
      const double best_cost = c[best].loss + lambda * static_cast<double>(c[best].bytes);
      if (cost < best_cost || (cost == best_cost && c[k].bytes < c[best].bytes)) best = k;
    }
    choice[t] = best;
  }
  return choice;
}

uint64_t bytes_of(const std::vector<AllocatableTensor>& tensors, const Choice& choice) {
  uint64_t total = 0;
  for (size_t t = 0; t < tensors.size(); ++t) total += tensors[t].candidates[choice[t]].bytes;
  return total;
}

// The smallest λ (to bisection precision) whose Lagrangian mix fits `room`.
Choice fitting_lagrangian(const std::vector<AllocatableTensor>& tensors, uint64_t room) {
  if (bytes_of(tensors, lagrangian_choice(tensors, 0.0)) <= room) return lagrangian_choice(tensors, 0.0);
  double hi = 1.0;
  for (int i = 0; i < 2000 && bytes_of(tensors, lagrangian_choice(tensors, hi)) > room; ++i) hi *= 2;
  double lo = 0.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (bytes_of(tensors, lagrangian_choice(tensors, mid)) <= room ? hi : lo) = mid;
  }
  return lagrangian_choice(tensors, hi);
}

// Spends the remaining bytes: the single upgrade with the most loss saved per byte, while one fits.
void greedy_fill(const std::vector<AllocatableTensor>& tensors, Choice& choice, uint64_t room) {
  uint64_t used = bytes_of(tensors, choice);
  for (;;) {
    double best_ratio = 0;
    size_t best_t = 0, best_k = 0;
    for (size_t t = 0; t < tensors.size(); ++t) {
      const TypeCandidate& now = tensors[t].candidates[choice[t]];
      for (size_t k = 0; k < tensors[t].candidates.size(); ++k) {
        const TypeCandidate& c = tensors[t].candidates[k];
        if (c.loss >= now.loss) continue;
        const uint64_t extra = c.bytes > now.bytes ? c.bytes - now.bytes : 0;
        if (used - now.bytes + c.bytes > room) continue;
        // A free improvement (no extra bytes) is always taken first.
        const double ratio = extra == 0 ? 1e300 : (now.loss - c.loss) / static_cast<double>(extra);
        if (ratio > best_ratio) best_ratio = ratio, best_t = t, best_k = k;
      }
    }
    if (best_ratio <= 0) return;
    used = used - tensors[best_t].candidates[choice[best_t]].bytes + tensors[best_t].candidates[best_k].bytes;
    choice[best_t] = best_k;
  }
}

// Moves bytes between two tensors (one gives, one takes) while that lowers the total loss and fits;
// the greedy fill alone stops when no single upgrade fits, though a trade may still help.
void pairwise_trades(const std::vector<AllocatableTensor>& tensors, Choice& choice, uint64_t room) {
  const uint64_t limit = 4 * tensors.size() + 16;  // each trade lowers the loss; this only bounds the time
  for (uint64_t round = 0; round < limit; ++round) {
    const uint64_t used = bytes_of(tensors, choice);
    double best_gain = 0;
    size_t bi = 0, bk = 0, bj = 0, bl = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const TypeCandidate& now_i = tensors[i].candidates[choice[i]];
      for (size_t k = 0; k < tensors[i].candidates.size(); ++k) {
        const TypeCandidate& ci = tensors[i].candidates[k];
        if (ci.bytes >= now_i.bytes) continue;  // i gives bytes
        for (size_t j = 0; j < tensors.size(); ++j) {
          if (j == i) continue;
          const TypeCandidate& now_j = tensors[j].candidates[choice[j]];
          for (size_t l = 0; l < tensors[j].candidates.size(); ++l) {
            const TypeCandidate& cj = tensors[j].candidates[l];
            if (cj.bytes <= now_j.bytes) continue;  // j takes them
            if (used - now_i.bytes + ci.bytes - now_j.bytes + cj.bytes > room) continue;
            const double gain = (now_i.loss - ci.loss) + (now_j.loss - cj.loss);
            if (gain > best_gain) best_gain = gain, bi = i, bk = k, bj = j, bl = l;
          }
        }
      }
    }
    if (best_gain <= 0) return;
    choice[bi] = bk;
    choice[bj] = bl;
    greedy_fill(tensors, choice, room);
  }
}

}  // namespace

double GgufTypeAllocation::total_loss() const {
  double total = 0;
  for (const AllocatedTensor& t : tensors) total += t.loss;
  return total;
}

std::vector<size_t> allocate_types(const std::vector<AllocatableTensor>& tensors, uint64_t fixed_bytes,
                                   uint64_t budget) {
  const uint64_t room = budget > fixed_bytes ? budget - fixed_bytes : 0;
  Choice choice = fitting_lagrangian(tensors, room);
  if (bytes_of(tensors, choice) > room) return choice;  // nothing fits: the smallest mix
  greedy_fill(tensors, choice, room);
  pairwise_trades(tensors, choice, room);
  return choice;
}

}  // namespace mp
