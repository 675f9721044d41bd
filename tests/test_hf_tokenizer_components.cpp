// tokenizer.json components one at a time, on small hand-made documents whose ids follow from Hugging
// Face tokenizers' documented semantics (worked out by hand in each comment).
#include <nlohmann/json.hpp>

#include "lib/tokenizer/tokenizer.h"
#include "tests/test_support.h"

using namespace mp;
using nlohmann::json;
using Ids = std::vector<int32_t>;

namespace {

// A BPE tokenizer.json over `vocab` (token -> id) and merges; `extra` is merged into the document and
// `model_extra` into its model.
Tokenizer make(const json& vocab, const json& merges, const json& extra = json::object(), const json& model_extra = json::object()) {
  json doc = {{"version", "1.0"}, {"added_tokens", json::array()}, {"normalizer", nullptr}, {"pre_tokenizer", nullptr},
              {"post_processor", nullptr}, {"decoder", nullptr},
              {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", vocab}, {"merges", merges}}}};
  doc.update(extra);
  doc["model"].update(model_extra);
  return Tokenizer::from_hf_json(doc, "test.json");
}

json split(const std::string& pattern, const std::string& behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"String", pattern}}}, {"behavior", behavior}, {"invert", invert}};
}

const json dash_vocab = {{"a", 0}, {"-", 1}, {"a-", 2}, {"-a", 3}, {"--", 4}, {"a--", 5}, {"a--a", 6}};
const json dash_merges = {"a -", "- a", "- -", "a --", "a-- a"};

}  // namespace

TEST_CASE("tokenizer.json Split: every behavior and invert", "[tokenizer][hf_tokenizer]") {
  // Unsplit, "a--a" merges (a,-) first, then nothing joins "a-" with "-": the ranks decide.
  CHECK(make(dash_vocab, dash_merges).encode("a--a", false) == Ids{2, 3});
  // Spans a | - | - | a, the dashes matched.
  auto with = [&](const json& pre) { return make(dash_vocab, dash_merges, {{"pre_tokenizer", pre}}).encode("a--a", false); };
  CHECK(with(split("-", "Isolated")) == Ids{0, 1, 1, 0});
  CHECK(with(split("-", "Removed")) == Ids{0, 0});
  CHECK(with(split("-", "Contiguous")) == Ids{0, 4, 0});                // a | -- | a
  CHECK(with(split("-", "MergedWithPrevious")) == Ids{2, 1, 0});       // a- | - | a
  CHECK(with(split("-", "MergedWithNext")) == Ids{0, 1, 3});           // a | - | -a
  CHECK(with(split("a", "Removed", /*invert=*/true)) == Ids{0, 0});    // the non-"a" spans are dropped
  CHECK(with(split("a", "Isolated", /*invert=*/true)) == Ids{0, 4, 0});
  // A regex pattern.
  CHECK(with({{"type", "Split"}, {"pattern", {{"Regex", "-+"}}}, {"behavior", "Isolated"}, {"invert", false}}) == Ids{0, 4, 0});
}

TEST_CASE("tokenizer.json BPE options: ignore_merges, byte_fallback, unk and fuse_unk, end_of_word_suffix", "[tokenizer][hf_tokenizer]") {
  const json ab = {{"a", 0}, {"b", 1}, {"ab", 2}};
  CHECK(make(ab, json::array()).encode("ab", false) == Ids{0, 1});
  CHECK(make(ab, json::array(), json::object(), {{"ignore_merges", true}}).encode("ab", false) == Ids{2});
  // "é" is C3 A9 in UTF-8; unknown as a character, known as two byte tokens.
  const json bytes = {{"<unk>", 0}, {"<0xC3>", 1}, {"<0xA9>", 2}, {"a", 3}};
  const Tokenizer fallback =
      make(bytes, json::array(), {{"decoder", {{"type", "ByteFallback"}}}}, {{"byte_fallback", true}, {"unk_token", "<unk>"}});
  CHECK(fallback.encode("aé", false) == Ids{3, 1, 2});
  CHECK(fallback.type(1) == TokenType::byte);
  CHECK(fallback.type(0) == TokenType::unknown);
  CHECK(fallback.decode({3, 1, 2}) == "aé");
  const json unk = {{"<unk>", 0}, {"a", 1}};
  CHECK(make(unk, json::array(), json::object(), {{"unk_token", "<unk>"}}).encode("axyza", false) == Ids{1, 0, 0, 0, 1});
  CHECK(make(unk, json::array(), json::object(), {{"unk_token", "<unk>"}, {"fuse_unk", true}}).encode("axyza", false) == Ids{1, 0, 1});
  // The last character carries the suffix, so "b</w>" is the vocab entry that matches.
  const json suffixed = {{"a", 0}, {"b</w>", 1}, {"ab</w>", 2}, {"b", 3}};
  CHECK(make(suffixed, json::array({"a b</w>"}), json::object(), {{"end_of_word_suffix", "</w>"}}).encode("ab", false) == Ids{2});
  // Merges as pairs, and the merge order decides: (b,c) outranks (a,b).
  const json abc = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}};
  CHECK(make(abc, json::array({json::array({"b", "c"}), json::array({"a", "b"})})).encode("abc", false) == Ids{0, 4});
  CHECK(make(abc, json::array({"a b", "b c"})).encode("abc", false) == Ids{3, 2});
}

TEST_CASE("tokenizer.json Metaspace: prepend_scheme always, first, never and split", "[tokenizer][hf_tokenizer]") {
  const json vocab = {{"a", 0}, {"\xE2\x96\x81", 1}, {"\xE2\x96\x81" "a", 2}, {"<x>", 3}, {"\xE2\x96\x81" "a" "\xE2\x96\x81" "a", 4}};
  const json merges = {"\xE2\x96\x81 a", "\xE2\x96\x81" "a \xE2\x96\x81" "a"};
  const json added = json::array({{{"id", 3}, {"content", "<x>"}, {"special", true}, {"lstrip", false}, {"rstrip", false},
                                   {"single_word", false}, {"normalized", false}}});
  auto meta = [&](const std::string& scheme, bool split_words) {
    return make(vocab, merges, {{"added_tokens", added},
                                {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"},
                                                   {"prepend_scheme", scheme}, {"split", split_words}}},
                                {"decoder", {{"type", "Metaspace"}, {"replacement", "\xE2\x96\x81"}, {"prepend_scheme", scheme}, {"split", split_words}}}});
  };
  // The text after an added token does not begin the text: "first" leaves it alone.
  CHECK(meta("always", true).encode("a<x>a", false) == Ids{2, 3, 2});
  CHECK(meta("first", true).encode("a<x>a", false) == Ids{2, 3, 0});
  CHECK(meta("never", true).encode("a<x>a", false) == Ids{0, 3, 0});
  // split: "▁a▁a" is two words; unsplit, the second merge joins them.
  CHECK(meta("always", true).encode("a a", false) == Ids{2, 2});
  CHECK(meta("always", false).encode("a a", false) == Ids{4});
  CHECK(meta("always", true).decode({2, 2}) == "a a");
}

TEST_CASE("tokenizer.json added tokens: longest match, lstrip, rstrip, single_word, special", "[tokenizer][hf_tokenizer]") {
  const json vocab = {{"a", 0}, {" ", 1}, {"<m>", 2}, {"<mm>", 3}, {"w", 4}};  // "ww" (5) is added only
  auto token = [](int id, const std::string& content, bool lstrip, bool rstrip, bool single_word, bool special) {
    return json{{"id", id}, {"content", content}, {"special", special}, {"lstrip", lstrip}, {"rstrip", rstrip},
                {"single_word", single_word}, {"normalized", false}};
  };
  const Tokenizer plain = make(vocab, json::array(), {{"added_tokens", {token(2, "<m>", false, false, false, true), token(3, "<mm>", false, false, false, false)}}});
  CHECK(plain.encode("a <m> a<mm>", false) == Ids{0, 1, 2, 1, 0, 3});
  CHECK(plain.type(2) == TokenType::control);
  CHECK(plain.type(3) == TokenType::user_defined);
  CHECK(plain.decode({0, 2, 3}) == "a<mm>");  // control tokens print nothing
  const Tokenizer stripping = make(vocab, json::array(), {{"added_tokens", {token(2, "<m>", true, true, false, true)}}});
  CHECK(stripping.encode("a  <m>  a", false) == Ids{0, 2, 0});
  const Tokenizer word = make(vocab, json::array(), {{"added_tokens", {token(5, "ww", false, false, true, false)}}});
  CHECK(word.encode("a ww a", false) == Ids{0, 1, 5, 1, 0});
  CHECK(word.encode("awwa", false) == Ids{0, 4, 4, 0});  // inside a word "ww" is plain text
}

TEST_CASE("tokenizer.json normalizers and decoders", "[tokenizer][hf_tokenizer]") {
  const json vocab = {{"a", 0}, {"b", 1}, {"\xE2\x96\x81", 2}, {"<0x41>", 3}, {"e\xCC\x81", 4}, {"\xC3\xA9", 5}, {"e", 6}, {"\xCC\x81", 7}};
  auto with = [&](const json& normalizer) { return make(vocab, json::array({"e \xCC\x81"}), {{"normalizer", normalizer}}); };
  // NFKC maps fullwidth Ａ to A; Lowercase then gives a.
  CHECK(with({{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}, {{"type", "Lowercase"}}}}}).encode("\xEF\xBC\xA1" "B", false) == Ids{0, 1});
  // NFC composes e + U+0301 into é (id 5); NFD leaves it decomposed, where the merge rebuilds id 4.
  CHECK(with({{"type", "NFC"}}).encode("e\xCC\x81", false) == Ids{5});
  CHECK(with({{"type", "NFD"}}).encode("\xC3\xA9", false) == Ids{4});
  CHECK(with({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}).encode("  ab \t", false) == Ids{0, 1});
  CHECK(with({{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                                                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}}}})
            .encode("a b", false) == Ids{2, 0, 2, 1});
  CHECK(with({{"type", "Replace"}, {"pattern", {{"Regex", "[0-9]+"}}}, {"content", "b"}}).encode("a123a", false) == Ids{0, 1, 0});
  // Mistral's decoder chain: ▁ to space, byte tokens to bytes, fused, one leading space stripped.
  const json mistral_decoder = {{"type", "Sequence"}, {"decoders", {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                                                                   {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                                                                   {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  CHECK(make(vocab, json::array(), {{"decoder", mistral_decoder}}).decode({2, 0, 3, 2, 1}) == "aA b");
}

TEST_CASE("tokenizer.json post-processor and tokenizer_config.json: what add_special adds", "[tokenizer][hf_tokenizer]") {
  const json vocab = {{"<s>", 0}, {"</s>", 1}, {"a", 2}};
  const json specials = json::array({{{"id", 0}, {"content", "<s>"}, {"special", true}}, {{"id", 1}, {"content", "</s>"}, {"special", true}}});
  const json template_processing = {{"type", "TemplateProcessing"},
                                    {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                                {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
                                    {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {0}}, {"tokens", {"<s>"}}}},
                                                        {"</s>", {{"id", "</s>"}, {"ids", {1}}, {"tokens", {"</s>"}}}}}}};
  const Tokenizer templated = make(vocab, json::array(), {{"added_tokens", specials}, {"post_processor", template_processing}});
  CHECK(templated.encode("a", true) == Ids{0, 2, 1});
  CHECK(templated.encode("a", false) == Ids{2});
  CHECK(templated.adds_bos());
  CHECK(templated.adds_eos());
  CHECK(templated.bos_id() == 0);
  // No template: tokenizer_config.json's flags decide.
  json doc = {{"added_tokens", specials}, {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
  const Tokenizer configured = Tokenizer::from_hf_json(doc, {{"bos_token", "<s>"}, {"eos_token", {{"content", "</s>"}}}, {"add_bos_token", true}}, "t.json");
  CHECK(configured.encode("a", true) == Ids{0, 2});
  CHECK(configured.eos_id() == 1);
  CHECK_FALSE(configured.adds_eos());
  const Tokenizer bare = Tokenizer::from_hf_json(doc, "t.json");
  CHECK(bare.encode("a", true) == Ids{2});
  CHECK(bare.bos_id() == -1);
  CHECK(bare.kind() == VocabKind::sentencepiece);
  CHECK_THROWS_WITH(bare.serialized_proto(), Catch::StartsWith("t.json: not a SentencePiece tokenizer"));
  CHECK_THROWS_WITH(make(vocab, json::array(), {{"post_processor", {{"type", "BertProcessing"}}}}),
                    "test.json: post-processor type BertProcessing is not supported");
}

// fuzz_quantized_checkpoint found nlohmann casting a JSON float past an integer's range (undefined
// behaviour); tokenizer.json's integer fields took the same path, and an id of 2^32 + 1 became 1.
TEST_CASE("tokenizer.json integers that do not fit their field are bad input", "[tokenizer][hf_tokenizer][hostile]") {
  const json vocab = {{"<s>", 0}, {"a", 1}};
  auto added = [](const json& id) { return json::array({{{"id", id}, {"content", "<s>"}, {"special", true}}}); };
  auto template_with = [](const json& id) {
    return json{{"type", "TemplateProcessing"},
                {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {id}}, {"tokens", {"<s>"}}}}}}};
  };
  auto strip = [](const json& start) { return json{{"type", "Strip"}, {"content", " "}, {"start", start}, {"stop", 0}}; };
  CHECK_NOTHROW(make(vocab, json::array(), {{"added_tokens", added(0)}, {"post_processor", template_with(0)}, {"decoder", strip(1)}}));
  for (const json& bad : {json(1e300), json(int64_t{4294967297}), json(uint64_t{1} << 63), json(2.5)}) {
    INFO(bad.dump());
    CHECK_THROWS_WITH(make(vocab, json::array(), {{"added_tokens", added(bad)}}),
                      Catch::StartsWith("test.json: field \"id\" must be an integer in [-2147483648, 2147483647]"));
    CHECK_THROWS_WITH(make(vocab, json::array(), {{"post_processor", template_with(bad)}}),
                      Catch::StartsWith("test.json: TemplateProcessing ids of <s> must be an integer"));
  }
  CHECK_THROWS_WITH(make(vocab, json::array(), {{"decoder", strip(1e300)}}),
                    Catch::StartsWith("test.json: field \"start\" must be an integer"));
}
