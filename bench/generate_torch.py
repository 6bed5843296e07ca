"""PyTorch CPU baseline for bench/generate.ts: greedy generation with a KV cache from the same Llama-architecture
checkpoint (a Hugging Face folder: config.json + model.safetensors), the same prompts, batch sizes and new-token
count, at the thread count given (the benchmark sweeps threads and OpenBLAS core types and keeps the fastest
correct one). Prints one JSON object on stdout; --blas-check adds the float32 GEMM error against float64.

The model is written out here (RMSNorm, RoPE in transformers' rotate_half layout, grouped-query attention,
SwiGLU MLP, tied or untied head), reading the safetensors file with the standard library (no `safetensors`
package needed), so it runs on Debian's python3-torch alone.
"""

import argparse
import json
import math
import struct
import time

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            raise SystemExit(f"{path}: tensor {name} is {e['dtype']}; this baseline reads F32 only")
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32)
        out[name] = t.reshape(e["shape"]) if e["shape"] else t.reshape(())
    return out


class Llama:
    def __init__(self, folder):
        cfg = json.load(open(f"{folder}/config.json"))
        if cfg["model_type"] not in ("llama", "qwen2"):
            raise SystemExit(f"baseline supports llama/qwen2 configs, got {cfg['model_type']}")
        if cfg.get("rope_scaling"):
            raise SystemExit("baseline supports plain RoPE only")
        self.cfg = cfg
        self.w = read_safetensors(f"{folder}/model.safetensors")
        self.L = cfg["num_hidden_layers"]
        self.H = cfg["num_attention_heads"]
        self.K = cfg.get("num_key_value_heads", self.H)
        self.E = cfg.get("head_dim") or cfg["hidden_size"] // self.H
        self.eps = cfg["rms_norm_eps"]
        half = self.E // 2
        self.inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, half, dtype=torch.float64) * 2 / self.E))
        self.tied = cfg.get("tie_word_embeddings", False)
        self.head = self.w["model.embed_tokens.weight"] if self.tied else self.w["lm_head.weight"]

    def rms(self, x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * g

    def rope(self, x, cos, sin):
        half = self.E // 2
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

    @torch.no_grad()
    def forward(self, ids, mask, past):
        """ids [B, T], mask [B, S] (S = P + T), past: list of (k, v) [B, K, P, E] or None."""
        B, T = ids.shape
        S = mask.shape[1]
        pos = (mask.cumsum(-1) - 1).clamp(min=0)[:, S - T:]  # [B, T]
        ang = pos.to(torch.float64)[..., None] * self.inv_freq  # [B, T, half]
        cos = ang.cos().to(torch.float32)[:, None]
        sin = ang.sin().to(torch.float32)[:, None]
        kidx = torch.arange(S)
        qidx = torch.arange(S - T, S)
        allowed = (kidx[None, :] <= qidx[:, None])[None, None] & (mask[:, None, None, :] != 0)  # [B, 1, T, S]
        x = self.w["model.embed_tokens.weight"][ids]
        G = self.H // self.K
        present = []
        for i in range(self.L):
            p = f"model.layers.{i}."
            h = self.rms(x, self.w[p + "input_layernorm.weight"])

            def lin(name, t):
                y = t @ self.w[p + name + ".weight"].t()
                b = self.w.get(p + name + ".bias")
                return y + b if b is not None else y

            q = lin("self_attn.q_proj", h).view(B, T, self.H, self.E).transpose(1, 2)
            k = lin("self_attn.k_proj", h).view(B, T, self.K, self.E).transpose(1, 2)
            v = lin("self_attn.v_proj", h).view(B, T, self.K, self.E).transpose(1, 2)
            q = self.rope(q, cos, sin)
            k = self.rope(k, cos, sin)
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            present.append((k, v))
            kk = k.repeat_interleave(G, dim=1)
            vv = v.repeat_interleave(G, dim=1)
            att = (q @ kk.transpose(-1, -2)) / math.sqrt(self.E)
            att = att.masked_fill(~allowed, torch.finfo(att.dtype).min).softmax(-1)
            o = (att @ vv).transpose(1, 2).reshape(B, T, self.H * self.E)
            x = x + o @ self.w[p + "self_attn.o_proj.weight"].t()
            h2 = self.rms(x, self.w[p + "post_attention_layernorm.weight"])
            gate = h2 @ self.w[p + "mlp.gate_proj.weight"].t()
            up = h2 @ self.w[p + "mlp.up_proj.weight"].t()
            x = x + (torch.nn.functional.silu(gate) * up) @ self.w[p + "mlp.down_proj.weight"].t()
        x = self.rms(x[:, -1], self.w["model.norm.weight"])
        return x @ self.head.t(), present


def generate(model, prompts, new_tokens, pad):
    B = len(prompts)
    P = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (P - len(p)) + p for p in prompts], dtype=torch.int64)
    mask = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in prompts], dtype=torch.int64)
    out = [[] for _ in range(B)]
    past = None
    feed = ids
    for step in range(new_tokens):
        logits, past = model.forward(feed, mask, past)
        nxt = logits.argmax(-1)
        for b in range(B):
            out[b].append(int(nxt[b]))
        if step == new_tokens - 1:
            break
        feed = nxt[:, None]
        mask = torch.cat([mask, torch.ones(B, 1, dtype=torch.int64)], dim=1)
    return out


def blas_check():
    """float32 matrix product 2048x384 @ 384x1536 against float64: max error relative to the largest entry, and GFLOP/s."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(2048, 384, generator=g)
    b = torch.randn(384, 1536, generator=g)
    ref = a.double() @ b.double()
    got = a @ b
    err = float(((got.double() - ref).abs().max() / ref.abs().max()).item())
    best = None
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return {"max_rel_err": err, "gflops": 2 * 2048 * 384 * 1536 / best / 1e9}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True, help="JSON file: {batches: {\"1\": [[ids]], \"16\": [...]}, pad}")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batches", default="", help="comma-separated batch sizes to run (default: all in the file)")
    ap.add_argument("--new-tokens", type=int, required=True)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--blas-check", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    spec = json.load(open(a.prompts))
    model = Llama(a.model)
    res = {"threads": torch.get_num_threads(), "torch": torch.__version__, "batches": {}}
    if a.blas_check:
        res["blas_check"] = blas_check()
    only = [b for b in a.batches.split(",") if b]
    for bs, prompts in spec["batches"].items():
        if only and bs not in only:
            continue
        generate(model, prompts, 2, spec["pad"])  # warm-up
        times = []
        cpu = []
        tokens = None
        for _ in range(a.runs):
            t0 = time.perf_counter()
            c0 = time.process_time()  # CPU seconds of all threads of this process
            tokens = generate(model, prompts, a.new_tokens, spec["pad"])
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        n = len(prompts) * a.new_tokens
        res["batches"][bs] = {"seconds": min(times), "tokens_per_s": n / min(times), "tokens_per_cpu_s": n / min(cpu), "first_row": tokens[0]}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
