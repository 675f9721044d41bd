// Greedy generation in a real llama.cpp (node-llama-cpp's prebuilt CPU binaries), for comparing
// modelpress's GGUF files with what llama.cpp makes of them.
// Usage: node greedy.mjs MODEL.gguf "PROMPT" N   -> one JSON line: prompt_ids, ids, text
// The prompt is tokenized by llama.cpp with BOS when the file says BOS is added, as llama-cli does. NODE_LLAMA_CPP may name the
// package's entry file (ES modules ignore NODE_PATH), e.g. .cache/node/node_modules/node-llama-cpp/dist/index.js.
const {getLlama} = await import(process.env.NODE_LLAMA_CPP ?? "node-llama-cpp");

const [modelPath, prompt, n] = process.argv.slice(2);
if (!modelPath || prompt === undefined || !n) {
  console.error("usage: node greedy.mjs MODEL.gguf PROMPT N");
  process.exit(2);
}
// build "never": the prebuilt binary or nothing, never a compiler or a download at run time.
// One thread: the machines running the tests are shared, and spinning worker threads starve there.
const llama = await getLlama({gpu: false, build: "never", logLevel: "error", maxThreads: 1});
const model = await llama.loadModel({modelPath});
const context = await model.createContext({contextSize: 256});
const sequence = context.getSequence();
const bos = model.tokens.shouldPrependBosToken && model.tokens.bos != null ? [model.tokens.bos] : [];
const promptIds = [...bos, ...model.tokenize(prompt)];
const ids = [];
for await (const token of sequence.evaluate(promptIds, {temperature: 0})) {
  ids.push(token);
  if (ids.length >= Number(n)) break;
}
console.log(JSON.stringify({prompt_ids: promptIds, ids, text: model.detokenize(ids)}));
await context.dispose();
await model.dispose();
await llama.dispose();
