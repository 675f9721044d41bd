// The SentencePiece shim (libmodelpress_spm.so, lib/tokenizer/spm/spm_shim.h) loaded into this process: its
// function table, resolved once. Only the tokenizer and the tokenizer trainer call it.
#pragma once
#include "lib/tokenizer/spm/spm_shim.h"

namespace mp {

struct SpmModule {
  mpspm_load_file_fn load_file;
  mpspm_load_proto_fn load_proto;
  mpspm_free_fn free;
  mpspm_encode_fn encode;
  mpspm_decode_fn decode;
  mpspm_serialize_fn serialize;
  mpspm_vocab_size_fn vocab_size;
  mpspm_piece_fn piece;
  mpspm_score_fn score;
  mpspm_type_fn type;
  mpspm_special_id_fn special_id;
  mpspm_train_fn train;
};

// Found next to the running executable, or at $MODELPRESS_SPM_SHIM.
const SpmModule& spm_module();

}  // namespace mp
