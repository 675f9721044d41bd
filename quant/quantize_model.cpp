#include "quant/quantize_model.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "formats/config_keys.h"
#include "lib/arch/architecture.h"
#include "lib/base/error.h"
#include "lib/base/huge_page_tensor.h"
#include "lib/base/progress.h"
#include "lib/runtime/model_tokenizer.h"
#include "quant/calibration_states.h"
#include "quant/hessian.h"
#include "quant/layer_compute_copy.h"
#include "quant/quantize_output.h"
#include "quant/quantize_request.h"
#include "quant/rtn.h"

namespace mp {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Blocks of other lengths wait in the budget beside fresh ones: 1 GiB raised GPTQ's peak on a 1B
// layer by 0.5 GiB, 512 MiB by 0.1 GiB for most of the saving (docs/performance.md).
constexpr size_t kBatchBlocksReused = size_t{512} << 20;

// Runs layer `w` over all calibration states in batches, in the states' compute type; `capture`
// sees every linear input. With `stop_after`, each batch's forward ends at that input and nothing
// is returned. Outputs are written into one tensor as they come: a list joined at the end would
// hold them twice (2 GiB more at 128 × 2048 tokens of a 1B model in bf16).
at::Tensor run_layer(const ModelConfig& config, const DecoderLayerWeights& w, RotaryEmbedding& rope,
                     const at::Tensor& states, int64_t batch, const CaptureFn& capture,
                     const char* stop_after = nullptr) {
  if (states.size(0) == 0) return states;  // data-free RTN: nothing to run
  // Every batch allocates the blocks the one before it freed (activations, f32 copies for the
  // Hessians); reused, the kernel does not zero them afresh each time.
  const ReuseFreedHugePages reuse(kBatchBlocksReused);
  const bool cast = states.scalar_type() != w.q.scalar_type();
  const DecoderLayerWeights forward_weights = cast ? layer_in_compute_type(config, w, states.scalar_type()) : DecoderLayerWeights{};
  at::Tensor outputs = stop_after ? at::Tensor() : at::empty_like(states);
  for (int64_t s = 0; s < states.size(0); s += batch) {
    const int64_t n = std::min(batch, states.size(0) - s);
    const at::Tensor out = decoder_layer_forward(config, cast ? forward_weights : w, rope, states.narrow(0, s, n), 0,
                                                 nullptr, capture, stop_after);
    if (outputs.defined()) outputs.narrow(0, s, n).copy_(out);
  }
  return outputs;
}

// The calibration windows embedded in the compute type a batch at a time: all windows at once in
// f32 would be 2 GiB beside their bf16 copy at 128 × 2048 tokens of a 1B model.
at::Tensor embed_in_batches(LlamaModel& model, const at::Tensor& tokens, at::ScalarType dtype, int64_t batch) {
  if (tokens.size(0) == 0) return model.embed(tokens).to(dtype);
  at::Tensor states;
  for (int64_t s = 0; s < tokens.size(0); s += batch) {
    const at::Tensor embedded = model.embed(tokens.narrow(0, s, std::min(batch, tokens.size(0) - s)));
    if (!states.defined()) states = at::empty({tokens.size(0), tokens.size(1), embedded.size(2)}, embedded.options().dtype(dtype));
    states.narrow(0, s, embedded.size(0)).copy_(embedded);
  }
  return states;
}

// Every linear input of layer `w` over all calibration states, by capture name: [N, T, in] in the
// states' compute type (AWQ searches in it, as AutoAWQ and llm-compressor search in the model's
// dtype), each written in place as its batches come.
std::map<std::string, at::Tensor> capture_inputs(const ModelConfig& config, const DecoderLayerWeights& w,
                                                 RotaryEmbedding& rope, const at::Tensor& states, int64_t batch) {
  std::map<std::string, at::Tensor> inputs;
  std::map<std::string, int64_t> filled;
  run_layer(config, w, rope, states, batch,
            [&](const char* input, const at::Tensor& x) {
              at::Tensor& all = inputs[input];
              if (!all.defined()) all = at::empty({states.size(0), x.size(1), x.size(2)}, x.options());
              all.narrow(0, filled[input], x.size(0)).copy_(x);
              filled[input] += x.size(0);
            },
            decoder_linear_groups(config).back().input);
  return inputs;
}

// ‖ΔW‖² / ‖W‖²: what data-free RTN reports, having no inputs to weight the error by.
double relative_weight_error(const at::Tensor& w, const at::Tensor& w_hat) {
  const at::Tensor wd = w.to(at::kDouble);
  return ((wd - w_hat.to(at::kDouble)).square().sum() / wd.square().sum().clamp_min(1e-300)).item<double>();
}

void check_finite(const at::Tensor& w, const std::string& source, const std::string& name) {
  if (!at::isfinite(w).all().item<bool>()) fail_input(source, "tensor '" + name + "' has non-finite values (NaN or Inf)");
}

nlohmann::ordered_json linear_json(const LinearReport& l, bool with_timings) {
  nlohmann::ordered_json j = {{"module", l.module}, {"bits", l.bits}, {"group_size", l.group_size},
                              {"relative_error", l.relative_error}, {"damp", l.damp}};
  if (with_timings) j["seconds"] = l.seconds;
  return j;
}

// What the sink commits with layer i: the report entries the layer added after the first `since`.
struct ReportSizes {
  size_t linears, skipped, awq;
};
ReportSizes sizes_of(const QuantizeReport& r) { return {r.linears.size(), r.skipped.size(), r.awq.size()}; }

nlohmann::json layer_record(const QuantizeReport& r, const ReportSizes& since) {
  nlohmann::json record = {{"linears", nlohmann::json::array()},
                           {"skipped", nlohmann::json::array()},
                           {"awq", nlohmann::json::array()}};
  for (size_t k = since.linears; k < r.linears.size(); ++k)
    record["linears"].push_back(nlohmann::json(linear_json(r.linears[k], /*with_timings=*/false)));
  for (size_t k = since.skipped; k < r.skipped.size(); ++k) record["skipped"].push_back(r.skipped[k]);
  for (size_t k = since.awq; k < r.awq.size(); ++k) record["awq"].push_back(nlohmann::json(mp::to_json(r.awq[k])));
  return record;
}

// The report entries of a layer an interrupted run finished (JSON numbers round-trip exactly).
void restore_layer_record(int64_t i, const nlohmann::json& record, QuantizeReport& report) {
  try {
    const std::string section = "layer " + std::to_string(i) + " linear";
    for (const auto& l : record.at("linears")) {
      const ConfigKeys linear(l, "--resume", section);
      report.linears.push_back({linear.required<std::string>("module"), linear.required<int>("bits"),
                                linear.required<int64_t>("group_size"), linear.required<double>("relative_error"),
                                linear.required<double>("damp"), 0});
    }
    for (const auto& s : record.at("skipped")) report.skipped.push_back(s.get<std::string>());
    for (const auto& a : record.at("awq"))
      report.awq.push_back({a.at("group").get<std::string>(), a.at("alpha").get<double>(), a.at("loss").get<double>(),
                            a.at("loss_at_alpha_0").get<double>()});
  } catch (const nlohmann::json::exception& e) {
    fail_input("--resume", "the interrupted run's record of layer " + std::to_string(i) + " is malformed: " + e.what());
  }
}

// Quantizes layer i in place: afterwards `w` computes what the quantized layer computes. Each
// linear goes to the sink as soon as it is solved, and its source pages are dropped.
void quantize_layer(int64_t i, DecoderLayerWeights& w, const at::Tensor& states, const ModelSource& source,
                    const QuantizePlan& plan, RotaryEmbedding& rope, QuantizedModelSink& sink, QuantizeReport& report) {
  const ModelConfig& config = source.config();
  // RTN rounds without reading inputs: its Hessians only weight the reported errors. After AWQ they
  // are accumulated over the search windows, not all calibration windows (at 128 × 2048 tokens the
  // passes over all of them were a third of a 1B layer's time). Only a calibrated output stage
  // (`--to gguf`) carries more windows than that here: otherwise windows_read already dropped them.
  const at::Tensor search_states = plan.awq ? awq_search_states(states, plan.awq->search_tokens) : states;
  const at::Tensor& error_states = plan.method == QuantMethod::rtn ? search_states : states;
  if (plan.awq) {
    auto grid_for = [&](const std::string& suffix) { return plan.grid_for(hf_names::layer(i, suffix)); };
    const auto inputs = capture_inputs(config, w, rope, search_states, plan.batch);
    for (auto& r : apply_awq(config, w, rope, inputs, grid_for, *plan.awq, "model.layers." + std::to_string(i)))
      report.awq.push_back(std::move(r));
    release_layer_pages(source, i);  // the scaled layer is a copy
  }
  // True-sequential: one group at a time, its inputs captured after the groups before it were
  // quantized. Otherwise all groups from one pass over the unquantized layer.
  const auto& groups = decoder_linear_groups(config);
  std::vector<std::vector<const LinearGroup*>> passes;
  if (!plan.round) {
    // Nothing to quantize: the (scaled) float layer is written as it is.
  } else if (plan.true_sequential) {
    for (const auto& g : groups) passes.push_back({&g});
  } else {
    passes.emplace_back();
    for (const auto& g : groups) passes.back().push_back(&g);
  }
  for (const auto& pass : passes) {
    std::map<std::string, HessianAccumulator> hessians;
    for (const LinearGroup* g : pass) {
      const int64_t in = w.linear(g->linears.front()).size(1);
      hessians.emplace(g->input, HessianAccumulator(in, at::kFloat));
    }
    // Groups come in forward order, so the pass's last input is as far as its forward must go.
    run_layer(config, w, rope, error_states, plan.batch, [&](const char* input, const at::Tensor& x) {
      auto it = hessians.find(input);
      if (it != hessians.end()) it->second.add(x.to(at::kFloat));
    }, pass.back()->input);
    for (const LinearGroup* g : pass) {
      const at::Tensor& h = hessians.at(g->input).matrix();
      std::optional<GptqHessian> inverse;  // shared by the group's linears, computed when first needed
      for (const auto& suffix : g->linears) {
        const std::string module = hf_names::layer(i, suffix);
        at::Tensor& weight = w.linear(suffix);
        check_finite(weight, source.path(), module + ".weight");
        auto grid = plan.grid_for(module);
        if (!grid) {
          report.skipped.push_back(module);
          continue;
        }
        const auto t0 = Clock::now();
        LinearReport lr;
        lr.module = module;
        lr.bits = grid->bits();
        lr.group_size = grid->group_size();
        QuantizedLinear q;
        if (plan.method == QuantMethod::gptq) {
          if (!inverse) inverse = prepare_gptq_hessian(h, plan.gptq);
          GptqResult r = quantize_gptq(weight, *inverse, grid, plan.gptq);
          if (r.damp_raises > 0)
            std::fprintf(stderr, "quantize: %s: Cholesky failed, dampening raised %d time(s) to %.4g\n", module.c_str(),
                         r.damp_raises, r.damp_used);
          lr.damp = r.damp_used;
          q = std::move(r.layer);
        } else {
          q = quantize_rtn(weight, grid);
        }
        at::Tensor dequantized = q.dequantize().to(weight.device());
        lr.relative_error = error_states.size(0) > 0 ? hessian_weighted_error(weight, dequantized, h).relative()
                                               : relative_weight_error(weight, dequantized);
        lr.seconds = seconds_since(t0);
        report.linears.push_back(lr);
        sink.add_linear(i, suffix, q);
        weight = dequantized;  // later groups and layers see the quantized layer
        source.release(module + ".weight");
      }
    }
  }
}

// The output stage: the output matrix solved on the final norm's outputs of the quantized model
// (`states`: the last layer's outputs), an untied embedding encoded with token-frequency row
// weights (quant/quantize_output.h). Each goes to the sink as soon as it is done.
void quantize_output_stage(const ModelSource& source, const QuantizePlan& plan, const at::Tensor& states,
                           const at::Tensor& tokens, QuantizedModelSink& sink, QuantizeReport& report) {
  const ModelConfig& config = source.config();
  const std::string head = output_module(config), lookup = lookup_module(config);
  if (const auto grid = plan.grid_for(head)) {
    const auto t0 = Clock::now();
    const at::Tensor h = output_hessian(config, source.tensor(hf_names::final_norm), states, plan.batch);
    const at::Tensor weight = source.tensor(head + ".weight");
    check_finite(weight, source.path(), head + ".weight");
    RowChunkedGptq solved = quantize_gptq_by_rows(weight, h, grid, plan.gptq);
    if (solved.damp_raises > 0)
      std::fprintf(stderr, "quantize: %s: Cholesky failed, dampening raised %d time(s) to %.4g\n", head.c_str(),
                   solved.damp_raises, solved.damp_used);
    sink.add_output_linear(head, solved.layer);
    source.release(head + ".weight");
    report.linears.push_back({head, grid->bits(), grid->group_size(), solved.error.relative(), solved.damp_used,
                              seconds_since(t0)});
  }
  if (lookup.empty()) return;
  if (const auto grid = plan.grid_for(lookup)) {
    const auto t0 = Clock::now();
    const at::Tensor weight = source.tensor(lookup + ".weight");
    check_finite(weight, source.path(), lookup + ".weight");
    const QuantizedLinear q = quantize_lookup_rows(weight, tokens, grid);
    // A lookup has no inputs to weight its error by: the weight-space error, as data-free RTN reports.
    const double error = relative_weight_error(weight.to(at::kFloat), q.dequantize());
    sink.add_output_linear(lookup, q);
    source.release(lookup + ".weight");
    report.linears.push_back({lookup, grid->bits(), grid->group_size(), error, 0, seconds_since(t0)});
  }
}

// The calibration windows. RTN needs no data: on a model whose tokenizer cannot be opened (a
// weights-only directory, a broken tokenizer file) and with no --calib, it rounds every weight as
// it is rather than fail, and reports weight-space errors.
at::Tensor calibration_tokens(const ModelSource& source, const QuantizePlan& plan, const CalibrationOptions& calibration) {
  const bool data_free_possible = plan.method == QuantMethod::rtn && !plan.awq && calibration.file.empty();
  if (!data_free_possible) return sample_calibration(model_tokenizer(source, calibration.tokenizer), calibration);
  try {
    return sample_calibration(model_tokenizer(source, calibration.tokenizer), calibration);
  } catch (const Error& e) {
    if (e.code() != ExitCode::bad_input) throw;
    std::fprintf(stderr, "quantize: no calibration (%s): RTN rounds the weights as they are; errors are weight-space\n",
                 e.what());
    return at::zeros({0, calibration.seqlen}, at::kLong);
  }
}

// AWQ then RTN reads only the search windows: RTN reads no inputs and weighs its reported errors on
// those windows, so the other windows would be carried through every layer for nothing (at 128 ×
// 2048 tokens, a search on 65,536 of them: 1.5 GiB of states and a forward over three quarters of
// the tokens per layer). The output stage reads them all.
at::Tensor windows_read(const QuantizePlan& plan, const at::Tensor& tokens) {
  if (!plan.awq || plan.method != QuantMethod::rtn || plan.calibrate_output) return tokens;
  return awq_search_states(tokens, plan.awq->search_tokens);
}

}  // namespace

nlohmann::ordered_json QuantizeReport::to_json(bool with_timings) const {
  nlohmann::ordered_json j;
  if (with_timings) j["seconds"] = seconds;
  j["calibration_tokens"] = calibration_tokens;
  j["skipped"] = skipped;
  j["linears"] = nlohmann::ordered_json::array();
  for (const auto& l : linears) j["linears"].push_back(linear_json(l, with_timings));
  if (!awq.empty()) {
    j["awq"] = nlohmann::ordered_json::array();
    for (const auto& a : awq) j["awq"].push_back(mp::to_json(a));
  }
  return j;
}

QuantizeReport quantize_model(const ModelSource& source, const QuantizePlan& plan, const RuntimeOptions& runtime,
                              QuantizedModelSink& sink, const ResumeOptions& resume) {
  plan.validate();
  map_large_tensors_on_huge_pages();  // batches and phases allocate and free large blocks of changing sizes
  const auto start = Clock::now();
  const ModelConfig& config = source.config();
  CalibrationOptions calibration = plan.calibration;
  calibration.seqlen = calibration_seqlen(calibration.seqlen, config.max_position_embeddings);
  // Quantization math runs in f32 on the f32 weights whatever the compute type; with bf16 the
  // calibration forwards (the activations every layer passes on and the inputs the Hessians are
  // accumulated from, in f32) run in bf16.
  RuntimeOptions f32 = runtime;
  f32.dtype = at::kFloat;
  LlamaModel model(std::shared_ptr<const ModelSource>(&source, [](const ModelSource*) {}), f32);
  const at::Tensor tokens = windows_read(plan, calibration_tokens(source, plan, calibration));
  QuantizeReport report;
  report.calibration_tokens = tokens.numel();
  nlohmann::json request = quantize_request(source, plan, tokens);
  if (runtime.dtype != at::kFloat) request["calibration_dtype"] = std::string(c10::toString(runtime.dtype));
  const std::vector<nlohmann::json> finished = sink.begin(request, resume.resume);
  // Stages: the layers, then the output stage when the plan calibrates the model's ends.
  const int64_t stages = config.num_layers + (plan.calibrate_output ? 1 : 0);
  if (static_cast<int64_t>(finished.size()) > stages)
    fail_input("--resume", "the interrupted run finished more layers than the model has");
  report.resumed_layers = std::min<int64_t>(static_cast<int64_t>(finished.size()), config.num_layers);
  const bool output_resumed = static_cast<int64_t>(finished.size()) > config.num_layers;
  // A resume starts from the last saved states and runs only the finished layers after them.
  const SavedStates saved =
      output_resumed ? SavedStates{}
                     : load_calibration_states(sink.resume_dir(), report.resumed_layers,
                                               {tokens.size(0), tokens.size(1), config.hidden_size},
                                               at::TensorOptions(runtime.dtype).device(runtime.device));
  at::Tensor states;
  if (saved.states.defined()) {
    states = saved.states;
    std::fprintf(stderr, "quantize: resuming from the calibration states after layer %lld\n",
                 static_cast<long long>(saved.after_layer));
  } else {
    states = embed_in_batches(model, tokens, runtime.dtype, plan.batch);
  }
  // The lookups touched the embedding's mapped pages; nothing reads them again before the commit.
  source.release(hf_names::embed);

  Progress progress("quantize", config.num_layers, "layers");
  for (int64_t i = 0; i < config.num_layers; ++i) {
    DecoderLayerWeights w;
    if (i < report.resumed_layers) {
      // Not solved again: the committed layer is read back to compute the next layer's inputs.
      restore_layer_record(i, finished[i], report);
      if (output_resumed || i <= saved.after_layer) {  // nothing left that needs this layer's outputs
        progress.skip(1, "resumed");
        continue;
      }
      w = sink.read_layer(i);
    } else {
      w = model.load_layer(i);
      const ReportSizes before = sizes_of(report);
      quantize_layer(i, w, states, source, plan, model.rope(), sink, report);
      sink.write_layer(i, w, layer_record(report, before));
    }
    states = run_layer(config, w, model.rope(), states, plan.batch, {});
    release_layer_pages(source, i);
    if (!sink.resume_dir().empty() && states.numel() > 0 && i + 1 < stages)
      save_calibration_states(sink.resume_dir(), i, states);
    if (i == resume.stop_after_layer && i + 1 < stages) {
      sink.keep_partial();
      report.stopped_after_layer = i;
      break;
    }
    double worst = 0;
    for (const auto& l : report.linears)
      if (l.module.rfind(hf_names::layer(i, ""), 0) == 0) worst = std::max(worst, l.relative_error);
    char status[80];
    std::snprintf(status, sizeof status, "layer %lld%s worst rel. error %.3g", static_cast<long long>(i),
                  i < report.resumed_layers ? " (resumed)" : "", worst);
    progress.advance(1, status);
  }
  progress.finish();
  if (plan.calibrate_output && report.stopped_after_layer < 0) {
    if (output_resumed) {
      restore_layer_record(config.num_layers, finished[config.num_layers], report);
    } else {
      const ReportSizes before = sizes_of(report);
      quantize_output_stage(source, plan, states, tokens, sink, report);
      sink.write_output_stage(layer_record(report, before));
    }
    if (resume.stop_after_layer == config.num_layers) {
      sink.keep_partial();
      report.stopped_after_layer = config.num_layers;
    }
  }
  report.seconds = seconds_since(start);
  if (report.stopped_after_layer < 0) {
    remove_calibration_states(sink.resume_dir());
    sink.commit(source, report.to_json(/*with_timings=*/false));
  }
  return report;
}

}  // namespace mp
