// A second tokenizer implementation for tests/test_tokenizer_js.cpp: @lenml/tokenizers (the JS port of
// transformers.js tokenizers) encodes each text of a JSON list, without special tokens.
// Usage: node encode.mjs LENML_DIR NAME TEXTS.json  (NAME: llama3, qwen3, gemma3, deepseek_v3, llama2)
// Prints a JSON list of id lists.
import fs from "node:fs";

const [root, name, textsPath] = process.argv.slice(2);
// The package ships only a browser bundle that defines a global `Tokenizers`.
const bundle = fs.readFileSync(`${root}/tokenizers/dist/main.global.js`, "utf8");
const { TokenizerLoader } = new Function(`${bundle}\n;return Tokenizers;`)();
const models = `${root}/tokenizer-${name}/models`;
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: JSON.parse(fs.readFileSync(`${models}/tokenizer.json`, "utf8")),
  tokenizerConfig: JSON.parse(fs.readFileSync(`${models}/tokenizer_config.json`, "utf8")),
});
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
const ids = texts.map((text) => Array.from(tokenizer.encode(text, { add_special_tokens: false })));
process.stdout.write(JSON.stringify(ids));
