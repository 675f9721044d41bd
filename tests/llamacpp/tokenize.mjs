// Tokenization in a real llama.cpp (node-llama-cpp's prebuilt CPU binaries), for comparing
// modelpress's tokenizers with what llama.cpp makes of a GGUF's vocabulary.
// Usage: node tokenize.mjs MODEL.gguf TEXTS.json   -> one JSON line: a list of id lists
// TEXTS.json holds a list of strings; special tokens in them are recognized, no BOS is added.
const {getLlama} = await import(process.env.NODE_LLAMA_CPP ?? "node-llama-cpp");
const fs = await import("node:fs");

const [modelPath, textsPath] = process.argv.slice(2);
if (!modelPath || !textsPath) {
  console.error("usage: node tokenize.mjs MODEL.gguf TEXTS.json");
  process.exit(2);
}
const texts = JSON.parse(fs.readFileSync(textsPath, "utf8"));
const llama = await getLlama({gpu: false, build: "never", logLevel: "error", maxThreads: 1});
const model = await llama.loadModel({modelPath, vocabOnly: true});
console.log(JSON.stringify(texts.map((text) => Array.from(model.tokenize(text, true)))));
await model.dispose();
await llama.dispose();
