#!/usr/bin/env bash
# Sequence-level KD on tinymix-10M (docs/teacher-data.md): the teacher continues the first words of
# TinyStories training stories (calib.txt); a small student trained from scratch on that teacher
# data with cross-entropy only is compared with the same student trained, for the same steps, on
# about the same number of TinyStories tokens, and (optionally) on the teacher data with the online
# teacher's logit loss mixed in. Perplexity on held-out TinyStories (eval.txt) for each.
# Usage: bench/teacher_data_kd.sh [WORK_DIR] (env: PROMPTS=600 N_PREDICT=160 STEPS=300 BATCH=8 SEQ=128 MIXED=1 CHUNKS=200)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp="${MODELPRESS:-${MODELPRESS_BUILD_DIR:-$root/build}/modelpress}"
shared="${MODELPRESS_SHARED:-$root/../shared}"
work="${1:-$(mktemp -d)}"
prompts="${PROMPTS:-600}" n_predict="${N_PREDICT:-160}" steps="${STEPS:-300}" batch="${BATCH:-8}" seq="${SEQ:-128}"
teacher="$shared/models/tinymix-10M"
mkdir -p "$work"
cd "$work"

# The first six words of each training story as prompts.
awk -v max="$prompts" 'BEGIN { start = 1 } /^[[:space:]]*$/ { start = 1; next }
     start { n = split($0, w, " "); line = w[1]; for (i = 2; i <= 6 && i <= n; ++i) line = line " " w[i]; print line; start = 0
             if (++count >= max) exit }' \
  "$shared/corpora/tinystories/calib.txt" >prompts.txt
# A finished teacher.jsonl in WORK_DIR is reused (an interrupted one is resumed by generate itself).
[ -f teacher.jsonl ] || "$mp" generate -q --dtype f32 -m "$teacher" --prompts prompts.txt --out teacher.jsonl -n "$n_predict" --temp 0.8 --seed 1 -b 32
"$mp" tokenize --tokenizer "$teacher" --out teacher.h5 teacher.jsonl | tee tokens.txt
want=$(sed -E 's/.*documents, ([0-9]+) tokens/\1/' tokens.txt)

# As many TinyStories tokens: whole stories of calib.txt, in order, until the count is reached.
"$mp" tokenize --tokenizer "$teacher" --out all-stories.h5 "$shared/corpora/tinystories/calib.txt" >all.txt
all_tokens=$(sed -E 's/.*documents, ([0-9]+) tokens/\1/' all.txt)
all_bytes=$(wc -c <"$shared/corpora/tinystories/calib.txt")
awk -v limit=$((all_bytes * want / all_tokens)) '{ bytes += length($0) + 1; print } /^[[:space:]]*$/ && bytes >= limit { exit }' \
  "$shared/corpora/tinystories/calib.txt" >stories.txt
"$mp" tokenize --tokenizer "$teacher" --out stories.h5 stories.txt | tee -a tokens.txt

cat >student.json <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256, "intermediate_size": 512,
 "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 2048,
 "max_position_embeddings": 256, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "hidden_act": "silu",
 "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2}
JSON
common=(--student-config student.json --tokenizer "$teacher" --steps "$steps" --batch "$batch" --seq "$seq"
        --lr 3e-3 --warmup 20 --seed 5 -q)
rm -rf student-*
"$mp" distill-train "${common[@]}" --data teacher.h5 --alpha 0 --out student-teacher-ce
"$mp" distill-train "${common[@]}" --data stories.h5 --alpha 0 --out student-stories-ce
students=(student-teacher-ce student-stories-ce)
if [ "${MIXED:-1}" = 1 ]; then
  "$mp" distill-train "${common[@]}" --data teacher.h5 --teacher "$teacher" --alpha 0.5 --out student-teacher-mixed
  students+=(student-teacher-mixed)
fi

stories_tokens=$(tail -1 tokens.txt | sed -E 's/.*documents, ([0-9]+) tokens/\1/')
echo "| model | training data (tokens) | PPL on tinystories/eval.txt |"
echo "| --- | --- | --- |"
for m in "$teacher" "${students[@]}"; do
  case "$m" in
    *stories-ce) data="TinyStories calib.txt ($stories_tokens)" ;;
    *teacher-*) data="teacher data ($want)" ;;
    *) data="(the teacher)" ;;
  esac
  json=$("$mp" eval -q --dtype f32 -m "$m" -f "$shared/corpora/tinystories/eval.txt" --ctx 256 --chunks "${CHUNKS:-200}" --json)
  ppl=$(sed -nE 's/^  "ppl": ([0-9.]+),?/\1/p' <<<"$json")
  err=$(sed -nE 's/^  "ppl_error": ([0-9.]+),?/\1/p' <<<"$json")
  echo "| $(basename "$m") | $data | $ppl ± $err |"
done
