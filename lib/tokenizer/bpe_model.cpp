#include "lib/tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>

#include "lib/base/error.h"
#include "lib/tokenizer/hf_json_fields.h"
#include "lib/tokenizer/unicode_text.h"

namespace mp {

namespace {

// Longer words are rare and would crowd the cache.
constexpr size_t cached_word_limit = 64;

// A merge "a b" (or ["a", "b"]) as its two tokens.
std::pair<std::string, std::string> merge_pair(const nlohmann::json& m, size_t rank, const std::string& origin) {
  if (m.is_string()) {
    const std::string s = m.get<std::string>();
    const size_t space = s.find(' ');
    if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
      fail_input(origin, "merge " + std::to_string(rank) + " \"" + s + "\" is not two tokens separated by one space");
    return {s.substr(0, space), s.substr(space + 1)};
  }
  if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
    return {m[0].get<std::string>(), m[1].get<std::string>()};
  fail_input(origin, "merge " + std::to_string(rank) + " is neither \"a b\" nor [\"a\", \"b\"]: " + m.dump().substr(0, 80));
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& spec, const std::string& origin) {
  const std::string type = hf_type(spec, origin);
  if (type != "BPE") fail_input(origin, "model type " + type + " is not supported (only BPE)");
  if (!hf_field<nlohmann::json>(spec, "dropout", nullptr, origin).is_null())
    fail_input(origin, "BPE dropout is not supported (it makes encoding random)");
  const nlohmann::json vocab = hf_required<nlohmann::json>(spec, "vocab", origin);
  if (!vocab.is_object()) fail_input(origin, "model vocab is not an object of token: id");
  ids_.reserve(vocab.size());
  std::vector<bool> taken;
  for (const auto& [token, id_json] : vocab.items()) {
    if (!id_json.is_number_integer() || id_json.get<int64_t>() < 0 || id_json.get<int64_t>() > (1 << 30))
      fail_input(origin, "vocab id of \"" + token + "\" is not a small non-negative integer");
    const auto id = id_json.get<int32_t>();
    if (static_cast<size_t>(id) >= pieces_.size()) {
      pieces_.resize(id + 1);
      taken.resize(id + 1);
    }
    if (taken[id])
      fail_input(origin, "vocab id " + std::to_string(id) + " is given to \"" + pieces_[id] + "\" and \"" + token + "\"");
    pieces_[id] = token;
    taken[id] = true;
    ids_.emplace(token, id);
  }
  continuing_subword_prefix_ = hf_field<std::string>(spec, "continuing_subword_prefix", "", origin);
  end_of_word_suffix_ = hf_field<std::string>(spec, "end_of_word_suffix", "", origin);
  fuse_unk_ = hf_field<bool>(spec, "fuse_unk", false, origin);
  byte_fallback_ = hf_field<bool>(spec, "byte_fallback", false, origin);
  ignore_merges_ = hf_field<bool>(spec, "ignore_merges", false, origin);
  const std::string unk = hf_field<std::string>(spec, "unk_token", "", origin);
  if (!unk.empty()) {
    unk_id_ = id_of(unk);
    if (unk_id_ < 0) fail_input(origin, "unk_token \"" + unk + "\" is not in the vocab");
  }
  add_merges(hf_field<nlohmann::json>(spec, "merges", nlohmann::json::array(), origin), origin);
  find_word_cuts();
}

namespace {
const std::string metaspace = "\xE2\x96\x81";  // U+2581, SentencePiece's space
}  // namespace

void BpeModel::find_word_cuts() {
  // Cutting changes what prefix/suffix a character gets, and an unknown "▁" could fuse across a cut.
  cuttable_ = continuing_subword_prefix_.empty() && end_of_word_suffix_.empty() && id_of(metaspace) >= 0;
  for (const std::string& token : pieces_) {
    for (size_t at = token.find(metaspace, 1); at != std::string::npos; at = token.find(metaspace, at + 1)) {
      size_t begin = at - 1;
      while (begin > 0 && (static_cast<unsigned char>(token[begin]) & 0xC0) == 0x80) --begin;
      const std::string before = token.substr(begin, at - begin);
      if (before != metaspace && std::find(joined_before_space_.begin(), joined_before_space_.end(), before) == joined_before_space_.end())
        joined_before_space_.push_back(before);
    }
  }
}

void BpeModel::encode_cut_word(std::string_view word, std::vector<int32_t>& out) const {
  // A merge only joins neighbours, so parts no token can span encode the same apart as together.
  size_t start = 0;
  for (size_t at = word.find(metaspace, 1); at != std::string_view::npos; at = word.find(metaspace, at + 1)) {
    size_t begin = at - 1;
    while (begin > 0 && (static_cast<unsigned char>(word[begin]) & 0xC0) == 0x80) --begin;
    const std::string_view before = word.substr(begin, at - begin);
    if (before == metaspace || std::find(joined_before_space_.begin(), joined_before_space_.end(), before) != joined_before_space_.end())
      continue;
    encode_uncut_word(word.substr(start, at - start), out);
    start = at;
  }
  encode_uncut_word(word.substr(start), out);
}

void BpeModel::add_merges(const nlohmann::json& merges, const std::string& origin) {
  if (!merges.is_array()) fail_input(origin, "model merges is not a list");
  merges_.reserve(merges.size());
  merge_list_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [a, b] = merge_pair(merges[rank], rank, origin);
    const int32_t left = id_of(a), right = id_of(b);
    if (left < 0 || right < 0)
      fail_input(origin, "merge " + std::to_string(rank) + " names a token not in the vocab: \"" + (left < 0 ? a : b) + "\"");
    const std::string joined = a + b.substr(std::min(b.size(), continuing_subword_prefix_.size()));
    const int32_t result = id_of(joined);
    if (result < 0) fail_input(origin, "merge " + std::to_string(rank) + " makes \"" + joined + "\", which is not in the vocab");
    merges_.emplace(pair_key(left, right), Merge{static_cast<int32_t>(rank), result});  // the first rank wins
    merge_list_.emplace_back(left, right);
  }
}

int32_t BpeModel::id_of(std::string_view token) const {
  const auto it = ids_.find(std::string(token));
  return it == ids_.end() ? -1 : it->second;
}

std::vector<std::string> BpeModel::merges() const {
  std::vector<std::string> out;
  out.reserve(merge_list_.size());
  for (const auto& [a, b] : merge_list_) out.push_back(pieces_[a] + " " + pieces_[b]);
  return out;
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > cached_word_limit && cuttable_ && word.find(metaspace, 1) != std::string_view::npos &&
      !(ignore_merges_ && id_of(word) >= 0))
    return encode_cut_word(word, out);
  encode_uncut_word(word, out);
}

void BpeModel::encode_uncut_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() > cached_word_limit) return merge_word(word, out);
  if (word_cache_.append_cached(word, out)) return;
  std::vector<int32_t> ids;
  merge_word(word, ids);
  out.insert(out.end(), ids.begin(), ids.end());
  word_cache_.remember(word, std::move(ids));
}

std::vector<int32_t> BpeModel::initial_symbols(std::string_view word) const {
  std::vector<int32_t> symbols;
  bool previous_unk = false;
  for (size_t at = 0; at < word.size();) {
    const size_t len = decode_utf8(word, at).first;
    std::string ch(word.substr(at, len));
    if (at > 0) ch.insert(0, continuing_subword_prefix_);
    at += len;
    if (at == word.size()) ch += end_of_word_suffix_;
    if (const int32_t id = id_of(ch); id >= 0) {
      symbols.push_back(id);
      previous_unk = false;
      continue;
    }
    if (byte_fallback_) {
      std::vector<int32_t> bytes;
      for (unsigned char b : word.substr(at - len, len)) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        if (const int32_t id = id_of(name); id >= 0) bytes.push_back(id);
      }
      if (bytes.size() == len) {
        symbols.insert(symbols.end(), bytes.begin(), bytes.end());
        previous_unk = false;
        continue;
      }
    }
    // Without an unk token, Hugging Face refuses the text; dropping the character is the nearest
    // thing that still encodes it.
    if (unk_id_ < 0) continue;
    if (!(fuse_unk_ && previous_unk)) symbols.push_back(unk_id_);
    previous_unk = true;
  }
  return symbols;
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {  // a word that is itself a token stays whole
    if (const int32_t whole = id_of(word); whole >= 0) return out.push_back(whole);
  }
  std::vector<int32_t> id = initial_symbols(word);
  const int n = static_cast<int>(id.size());
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto consider = [&](int left) {
    if (left < 0 || next[left] < 0) return;
    const auto it = merges_.find(pair_key(id[left], id[next[left]]));
    if (it != merges_.end()) queue.push({it->second.rank, left, it->second.result});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    // Stale candidates: the symbols moved on since this pair was queued.
    if (!alive[c.pos] || next[c.pos] < 0) continue;
    const auto it = merges_.find(pair_key(id[c.pos], id[next[c.pos]]));
    if (it == merges_.end() || it->second.result != c.result || it->second.rank != c.rank) continue;
    const int right = next[c.pos];
    id[c.pos] = c.result;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    consider(prev[c.pos]);
    consider(c.pos);
  }
  for (int i = 0; i < n; ++i)
    if (alive[i]) out.push_back(id[i]);
}

}  // namespace mp
