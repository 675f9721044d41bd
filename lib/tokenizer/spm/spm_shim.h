/* The C interface of the SentencePiece shim (libmodelpress_spm.so). SentencePiece bundles an old
   protobuf that clashes with LibTorch's, so it is only ever reached through this table of plain C
   functions in a module loaded with RTLD_LOCAL | RTLD_DEEPBIND. */
#pragma once
#include <stddef.h>

extern "C" {

/* Token types, numbered as llama.cpp's tokenizer.ggml.token_type. */
enum { MPSPM_NORMAL = 1, MPSPM_UNKNOWN = 2, MPSPM_CONTROL = 3, MPSPM_USER_DEFINED = 4,
       MPSPM_UNUSED = 5, MPSPM_BYTE = 6 };

/* Each loader returns a handle, or NULL with a message in err. */
typedef void* (*mpspm_load_file_fn)(const char* path, char* err, size_t err_len);
typedef void* (*mpspm_load_proto_fn)(const char* bytes, size_t len, char* err, size_t err_len);
typedef void (*mpspm_free_fn)(void* handle);
/* Return the full count; only the first `cap` are written, so call again with room if larger.
   MPSPM_FAILED, with a message in err, when SentencePiece fails or throws: no exception crosses
   this interface. */
#define MPSPM_FAILED ((size_t)-1)
typedef size_t (*mpspm_encode_fn)(void* handle, const char* text, size_t len, int* ids, size_t cap,
                                  char* err, size_t err_len);
typedef size_t (*mpspm_decode_fn)(void* handle, const int* ids, size_t n, char* out, size_t cap,
                                  char* err, size_t err_len);
typedef size_t (*mpspm_serialize_fn)(void* handle, char* out, size_t cap);
typedef int (*mpspm_vocab_size_fn)(void* handle);
typedef const char* (*mpspm_piece_fn)(void* handle, int id);
typedef float (*mpspm_score_fn)(void* handle, int id);
typedef int (*mpspm_type_fn)(void* handle, int id);
/* which: 0 bos, 1 eos, 2 unk, 3 pad; -1 when the model has none. */
typedef int (*mpspm_special_id_fn)(void* handle, int which);
/* Trains a model on the lines of text_path and writes it (a serialized ModelProto) to model_path.
   The text is streamed in rather than named by an "input" flag, so no path is recorded in the model
   and the same text trains the same bytes from anywhere. options: SentencePiece trainer flags as
   "name=value" lines (values may hold spaces). seed: SentencePiece's random generator, for the
   samplers some trainers use. Returns 0, or -1 with a message in err. */
typedef int (*mpspm_train_fn)(const char* text_path, const char* options, unsigned seed,
                              const char* model_path, char* err, size_t err_len);

}
