// Every number of a config.json within the range the runtime and writers can use: a count that is
// too large would overflow a product or ask for memory no file holds, a zero would divide, a
// non-finite float would spread NaN silently. Checked once, at parse time, so no later division or
// allocation sees an unchecked value.
#include <cmath>

#include "formats/hf_config.h"
#include "lib/base/error.h"

namespace mp {

namespace {

// Far beyond any published model, far below what would overflow an int64 product of two of them.
constexpr int64_t kMaxWidth = int64_t{1} << 20;       // hidden, intermediate, head sizes
constexpr int64_t kMaxHeads = int64_t{1} << 12;
constexpr int64_t kMaxLayers = int64_t{1} << 12;
constexpr int64_t kMaxVocab = int64_t{1} << 24;
constexpr int64_t kMaxPositions = int64_t{1} << 26;

void require_range(int64_t value, int64_t low, int64_t high, const char* key, const std::string& where) {
  if (value < low || value > high)
    fail_input(where, std::string("\"") + key + "\" must be in [" + std::to_string(low) + ", " +
                          std::to_string(high) + "], got " + std::to_string(value));
}

void require_finite_positive(double value, const char* key, const std::string& where) {
  if (!std::isfinite(value) || value <= 0)
    fail_input(where, std::string("\"") + key + "\" must be a finite positive number, got " + std::to_string(value));
}

}  // namespace

void check_config_ranges(const ModelConfig& c, const std::string& where) {
  require_range(c.hidden_size, 1, kMaxWidth, "hidden_size", where);
  require_range(c.intermediate_size, 1, kMaxWidth, "intermediate_size", where);
  require_range(c.num_layers, 1, kMaxLayers, "num_hidden_layers", where);
  require_range(c.num_heads, 1, kMaxHeads, "num_attention_heads", where);
  require_range(c.num_kv_heads, 1, c.num_heads, "num_key_value_heads", where);
  require_range(c.head_dim, 2, kMaxWidth / c.num_heads, "head_dim", where);
  require_range(c.vocab_size, 1, kMaxVocab, "vocab_size", where);
  require_range(c.max_position_embeddings, 1, kMaxPositions, "max_position_embeddings", where);
  require_range(c.sliding_window, 0, kMaxPositions, "sliding_window", where);
  require_range(c.bos_token_id, 0, c.vocab_size - 1, "bos_token_id", where);
  require_range(c.eos_token_id, 0, c.vocab_size - 1, "eos_token_id", where);
  require_finite_positive(c.rms_norm_eps, "rms_norm_eps", where);
  require_finite_positive(c.rope_theta, "rope_theta", where);
  require_finite_positive(c.rope_linear_factor, "rope_scaling.factor", where);
  if (c.llama3_rope) {
    require_finite_positive(c.llama3_rope->factor, "rope_scaling.factor", where);
    require_finite_positive(c.llama3_rope->low_freq_factor, "rope_scaling.low_freq_factor", where);
    require_finite_positive(c.llama3_rope->high_freq_factor, "rope_scaling.high_freq_factor", where);
    require_range(c.llama3_rope->original_max_position_embeddings, 1, kMaxPositions,
                  "rope_scaling.original_max_position_embeddings", where);
  }
  for (float factor : c.rope_freq_factors)
    if (!std::isfinite(factor) || factor <= 0) fail_input(where, "rope frequency factors must be finite and positive");
}

}  // namespace mp
