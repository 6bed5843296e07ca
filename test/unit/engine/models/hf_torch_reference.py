"""Independent PyTorch forward of a Hugging Face model folder (gpt2, llama, qwen2), written from transformers'
conventions (HF tensor names and layouts: GPT-2 Conv1D [in, out] with fused c_attn, nn.Linear [out, in];
rotate_half RoPE with default / linear / llama3 scaling; repeat_kv GQA), for cross-checking the engine.
Reads the safetensors file with the standard library. Usage:

    python3 hf_torch_reference.py <folder> '<json list of token id rows>'   -> JSON {"logits": [...]} on stdout
"""

import json
import math
import struct
import sys

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
        b, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"]).to(torch.float64)
    return out


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def causal_softmax_attn(q, k, v):
    t = q.shape[-2]
    att = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    return att.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def gpt2(cfg, w, ids):
    p = "transformer." if "transformer.wte.weight" in w else ""
    B, T = ids.shape
    D = cfg["n_embd"]
    H = cfg["n_head"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    ln = lambda x, n: torch.nn.functional.layer_norm(x, (D,), w[n + ".weight"], w[n + ".bias"], eps)
    x = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][torch.arange(T)]
    for i in range(cfg["n_layer"]):
        h = f"{p}h.{i}."
        a = ln(x, h + "ln_1") @ w[h + "attn.c_attn.weight"] + w[h + "attn.c_attn.bias"]
        q, k, v = a.split(D, dim=2)
        sh = lambda t: t.view(B, T, H, D // H).transpose(1, 2)
        o = causal_softmax_attn(sh(q), sh(k), sh(v)).transpose(1, 2).reshape(B, T, D)
        x = x + o @ w[h + "attn.c_proj.weight"] + w[h + "attn.c_proj.bias"]
        m = gelu_new(ln(x, h + "ln_2") @ w[h + "mlp.c_fc.weight"] + w[h + "mlp.c_fc.bias"])
        x = x + m @ w[h + "mlp.c_proj.weight"] + w[h + "mlp.c_proj.bias"]
    x = ln(x, p + "ln_f")
    return x @ w[p + "wte.weight"].t()


def rope_inv_freq(cfg, dim):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv
    kind = rs.get("rope_type", rs.get("type"))
    if kind == "linear":
        return inv / rs["factor"]
    if kind == "llama3":
        factor = rs["factor"]
        lo, hi = rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wave, high_wave = old / lo, old / hi
        wave = 2 * math.pi / inv
        out = torch.where(wave > low_wave, inv / factor, inv)
        smooth = (old / wave - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = (wave >= high_wave) & (wave <= low_wave)
        return torch.where(medium, smoothed, out)
    raise SystemExit(f"rope type {kind} not in this reference")


def llama(cfg, w, ids):
    B, T = ids.shape
    H = cfg["num_attention_heads"]
    K = cfg.get("num_key_value_heads", H)
    E = cfg.get("head_dim") or cfg["hidden_size"] // H
    eps = cfg["rms_norm_eps"]
    rms = lambda x, g: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * g
    inv = rope_inv_freq(cfg, E)
    emb = torch.cat([torch.outer(torch.arange(T, dtype=torch.float64), inv)] * 2, dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def rot(x):
        x1, x2 = x[..., : E // 2], x[..., E // 2 :]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def lin(name, x):
        y = x @ w[name + ".weight"].t()
        return y + w[name + ".bias"] if name + ".bias" in w else y

    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = rot(lin(p + "self_attn.q_proj", h).view(B, T, H, E).transpose(1, 2))
        k = rot(lin(p + "self_attn.k_proj", h).view(B, T, K, E).transpose(1, 2))
        v = lin(p + "self_attn.v_proj", h).view(B, T, K, E).transpose(1, 2)
        k = k.repeat_interleave(H // K, dim=1)
        v = v.repeat_interleave(H // K, dim=1)
        o = causal_softmax_attn(q, k, v).transpose(1, 2).reshape(B, T, H * E)
        x = x + lin(p + "self_attn.o_proj", o)
        h2 = rms(x, w[p + "post_attention_layernorm.weight"])
        x = x + lin(p + "mlp.down_proj", torch.nn.functional.silu(lin(p + "mlp.gate_proj", h2)) * lin(p + "mlp.up_proj", h2))
    x = rms(x, w["model.norm.weight"])
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.t()


def main():
    folder, rows = sys.argv[1], json.loads(sys.argv[2])
    cfg = json.load(open(f"{folder}/config.json"))
    w = read_safetensors(f"{folder}/model.safetensors")
    ids = torch.tensor(rows, dtype=torch.int64)
    with torch.no_grad():
        logits = gpt2(cfg, w, ids) if cfg["model_type"] == "gpt2" else llama(cfg, w, ids)
    print(json.dumps({"logits": logits.flatten().tolist()}))


if __name__ == "__main__":
    main()
