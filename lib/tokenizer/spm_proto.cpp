#include "lib/tokenizer/spm_proto.h"

#include <cstring>

namespace mp {

namespace {

enum WireType : uint32_t { varint = 0, fixed32 = 5, length_delimited = 2 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_tag(std::string& out, uint32_t field, WireType wire) { put_varint(out, (uint64_t{field} << 3) | wire); }

void put_int(std::string& out, uint32_t field, int64_t v) {
  put_tag(out, field, varint);
  put_varint(out, static_cast<uint64_t>(v));  // negative int32 values take ten bytes, as in protobuf
}

void put_bytes(std::string& out, uint32_t field, const std::string& bytes) {
  put_tag(out, field, length_delimited);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_float(std::string& out, uint32_t field, float v) {
  put_tag(out, field, fixed32);
  char buf[4];
  std::memcpy(buf, &v, 4);  // little-endian, like the hosts modelpress runs on
  out.append(buf, 4);
}

}  // namespace

std::string llama_spm_model_proto(const SpmVocabulary& vocab) {
  std::string model;
  for (size_t i = 0; i < vocab.pieces.size(); ++i) {
    std::string piece;  // ModelProto.SentencePiece
    put_bytes(piece, 1, vocab.pieces[i]);
    put_float(piece, 2, vocab.scores[i]);
    put_int(piece, 3, static_cast<int32_t>(vocab.types[i]));
    put_bytes(model, 1, piece);
  }
  std::string trainer;  // TrainerSpec
  put_int(trainer, 3, 2);  // model_type: BPE
  put_int(trainer, 4, static_cast<int64_t>(vocab.pieces.size()));  // vocab_size
  put_int(trainer, 35, 1);  // byte_fallback
  put_int(trainer, 40, vocab.unk_id);
  put_int(trainer, 41, vocab.bos_id);
  put_int(trainer, 42, vocab.eos_id);
  put_int(trainer, 43, -1);  // pad_id: Llama has no padding piece
  put_bytes(model, 2, trainer);
  std::string normalizer;  // NormalizerSpec
  put_bytes(normalizer, 1, "identity");
  put_int(normalizer, 3, 1);  // add_dummy_prefix
  put_int(normalizer, 4, 0);  // remove_extra_whitespaces
  put_int(normalizer, 5, 1);  // escape_whitespaces
  put_bytes(model, 3, normalizer);
  return model;
}

}  // namespace mp
