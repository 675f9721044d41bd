#!/usr/bin/python3
"""A plain PyTorch training loop (forward, cross-entropy, backward, clipping, AdamW) on the model
shape and batch `modelpress distill-train` trains, to compare training throughput with.

The model is the HF Llama architecture written with torch.nn (RMSNorm, rotary "rotate half",
grouped-query attention with a causal mask, SiLU MLP, tied or untied LM head); the optimizer is
torch.optim.AdamW with distill-train's settings (betas 0.9/0.95, eps 1e-8, weight decay 0.1 on
matrices only, gradient clipping at global norm 1). Tokens are random: distill-train's data
loading (a slice of an HDF5 file) is part of its step time, so if anything this favours PyTorch.

    /usr/bin/python3 bench/torch_train_loop.py --config CONFIG.json --batch 8 --seq 256 \
        --steps 10 --threads 2 [--foreach] [--profile]

Prints one JSON line: tokens/s (median step), per-phase seconds (forward, loss+backward,
clip+AdamW), torch version and threads. Debian's python3-torch (1.13) has no
scaled_dot_product_attention, so attention is the explicit softmax(QKᵀ/√d + mask)V that HF's
"eager" attention computes.
"""
import argparse
import json
import math
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads libgomp, as modelpress does
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class RMSNorm(torch.nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, f = c["hidden_size"], c["intermediate_size"]
        self.heads, self.kv_heads = c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"])
        self.head_dim = h // self.heads
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.q_proj = torch.nn.Linear(h, self.heads * self.head_dim, bias=False)
        self.k_proj = torch.nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = torch.nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = torch.nn.Linear(self.heads * self.head_dim, h, bias=False)
        self.gate_proj = torch.nn.Linear(h, f, bias=False)
        self.up_proj = torch.nn.Linear(h, f, bias=False)
        self.down_proj = torch.nn.Linear(f, h, bias=False)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        a = self.input_layernorm(x)
        q = self.q_proj(a).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(a).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(a).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        group = self.heads // self.kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + mask
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        x = x + self.o_proj(out.transpose(1, 2).reshape(b, t, -1))
        m = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, v = c["hidden_size"], c["vocab_size"]
        self.embed_tokens = torch.nn.Embedding(v, h)
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(h, c["rms_norm_eps"])
        self.lm_head = None if c.get("tie_word_embeddings", False) else torch.nn.Linear(h, v, bias=False)
        d = h // c["num_attention_heads"]
        self.register_buffer("inv_freq", 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, d, 2).float() / d)),
                             persistent=False)
        for p in self.parameters():  # HF's initialization: N(0, 0.02), norms at one
            if p.dim() > 1:
                torch.nn.init.normal_(p, 0.0, 0.02)

    def forward(self, tokens):
        t = tokens.shape[1]
        angles = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((t, t), float("-inf")).triu(1)
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        return F.linear(x, self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--count-parameters", action="store_true", help="print the model's parameter count and stop")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10, help="timed steps, after one untimed warm-up step")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--foreach", action="store_true", help="AdamW's multi-tensor (_foreach_) implementation")
    ap.add_argument("--profile", action="store_true", help="print the autograd profiler's table of one step")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.config) as f:
        config = json.load(f)
    model = Llama(config)
    if args.count_parameters:
        print(sum(p.numel() for p in model.parameters()))
        return
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                                  lr=1e-4, betas=(0.9, 0.95), eps=1e-8, foreach=args.foreach)
    vocab = config["vocab_size"]

    def step():
        tokens = torch.randint(vocab, (args.batch, args.seq + 1))
        t0 = time.perf_counter()
        logits = model(tokens[:, :-1])
        t1 = time.perf_counter()
        loss = F.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    step()  # warm-up
    if args.profile:
        with torch.autograd.profiler.profile() as prof:
            step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    phases = [step() for _ in range(args.steps)]
    totals = [sum(p) for p in phases]
    tokens = args.batch * args.seq
    print(json.dumps({
        "runner": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in model.parameters()), "batch": args.batch, "seq": args.seq,
        "steps": args.steps, "foreach": args.foreach,
        "tokens_per_s": tokens / statistics.median(totals),
        "forward_s": sum(p[0] for p in phases), "backward_s": sum(p[1] for p in phases),
        "optimizer_s": sum(p[2] for p in phases)}))


if __name__ == "__main__":
    main()
