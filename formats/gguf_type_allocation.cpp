#include "formats/gguf_type_allocation.h"

#include <algorithm>
#include <limits>

namespace mp {

namespace {

using Choice = std::vector<size_t>;

constexpr uint64_t kUnit = 32;                  // candidates' bytes are padded to this
constexpr uint64_t kCells = uint64_t{1} << 26;  // tensors × units the programme may hold

uint64_t bytes_of(const std::vector<AllocatableTensor>& tensors, const Choice& choice) {
  uint64_t total = 0;
  for (size_t t = 0; t < tensors.size(); ++t) total += tensors[t].candidates[choice[t]].bytes;
  return total;
}

Choice smallest_mix(const std::vector<AllocatableTensor>& tensors) {
  Choice choice(tensors.size(), 0);
  for (size_t t = 0; t < tensors.size(); ++t)
    for (size_t k = 1; k < tensors[t].candidates.size(); ++k)
      if (tensors[t].candidates[k].bytes < tensors[t].candidates[choice[t]].bytes) choice[t] = k;
  return choice;
}

// best[c]: the least loss of the tensors so far in at most c units; the candidate each tensor takes
// at each c is kept for the walk back.
Choice knapsack(const std::vector<AllocatableTensor>& tensors, uint64_t room) {
  const uint64_t per_tensor = kCells / std::max<size_t>(1, tensors.size());
  uint64_t unit = kUnit;
  while (room / unit > per_tensor) unit *= 2;
  const size_t units = static_cast<size_t>(room / unit);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> best(units + 1, 0.0), next(units + 1);
  std::vector<std::vector<uint8_t>> taken(tensors.size(), std::vector<uint8_t>(units + 1, 0));
  for (size_t t = 0; t < tensors.size(); ++t) {
    const auto& c = tensors[t].candidates;
    // Candidates by bytes, so that among equal losses the smaller one is kept.
    std::vector<size_t> order(c.size());
    for (size_t k = 0; k < c.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return c[a].bytes < c[b].bytes; });
    for (size_t u = 0; u <= units; ++u) {
      next[u] = inf;
      for (size_t k : order) {
        const uint64_t cost = (c[k].bytes + unit - 1) / unit;
        if (cost > u || best[u - cost] == inf) continue;
        const double loss = best[u - cost] + c[k].loss;
        if (loss < next[u]) next[u] = loss, taken[t][u] = static_cast<uint8_t>(k);
      }
    }
    best.swap(next);
  }
  if (best[units] == inf) return smallest_mix(tensors);  // only the rounding to a coarser unit can do this
  Choice choice(tensors.size());
  size_t u = units;
  for (size_t t = tensors.size(); t-- > 0;) {
    choice[t] = taken[t][u];
    u -= static_cast<size_t>((tensors[t].candidates[choice[t]].bytes + unit - 1) / unit);
  }
  return choice;
}

// Spends the bytes the rounding to units left: the single upgrade with the most loss saved per
// byte, while one fits. Changes nothing when the unit is 32 (the programme's mix is optimal).
void greedy_fill(const std::vector<AllocatableTensor>& tensors, Choice& choice, uint64_t room) {
  uint64_t used = bytes_of(tensors, choice);
  for (;;) {
    double best_ratio = 0;
    size_t best_t = 0, best_k = 0;
    for (size_t t = 0; t < tensors.size(); ++t) {
      const TypeCandidate& now = tensors[t].candidates[choice[t]];
      for (size_t k = 0; k < tensors[t].candidates.size(); ++k) {
        const TypeCandidate& c = tensors[t].candidates[k];
        if (c.loss >= now.loss || used - now.bytes + c.bytes > room) continue;
        const uint64_t extra = c.bytes > now.bytes ? c.bytes - now.bytes : 0;
        const double ratio = extra == 0 ? std::numeric_limits<double>::max() : (now.loss - c.loss) / static_cast<double>(extra);
        if (ratio > best_ratio) best_ratio = ratio, best_t = t, best_k = k;
      }
    }
    if (best_ratio <= 0) return;
    used = used - tensors[best_t].candidates[choice[best_t]].bytes + tensors[best_t].candidates[best_k].bytes;
    choice[best_t] = best_k;
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
  const Choice smallest = smallest_mix(tensors);
  if (bytes_of(tensors, smallest) > room) return smallest;
  Choice choice = knapsack(tensors, room);
  greedy_fill(tensors, choice, room);
  return choice;
}

}  // namespace mp
