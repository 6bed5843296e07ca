"""PyTorch CPU baseline for bench/scale.ts: one LoRA-DPO training step on a Llama / Qwen2 model read from a
Hugging Face folder (config.json + model.safetensors, written by bench/scaleModels.ts), the same LoRA (rank,
alpha, target modules, PEFT's init), the same pairs, the same DPO loss (sigmoid, beta), clipping and AdamW.

The model follows transformers' LlamaForCausalLM / Qwen2ForCausalLM: RMSNorm, rotary embeddings (rotate_half),
grouped-query attention with an explicit causal softmax (torch 1.13 has no fused SDPA), SwiGLU MLP, q/k/v bias
for qwen2, tied embeddings. LoRA as PEFT: y = W x + b + (alpha / r) B A x, A ~ U(+-1/sqrt(in)), B = 0. The
reference is the base model (adapters off) under no_grad, as TRL does for a PEFT model.

Prints one JSON object: step_s (per step, the first a warm-up), step_cpu_s (CPU seconds of the process per step), losses, peak_rss_gb, phases_s (mean seconds of
the timed steps in: reference forward, policy forward + loss, backward, optimizer).
"""

import argparse
import json
import math
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint


def read_safetensors(path: str) -> dict:
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", f"{name}: {e['dtype']}"
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(data, dtype=torch.float32, offset=a, count=(b - a) // 4).view(e["shape"])
    return out


class LoraLinear(nn.Module):
    def __init__(self, w: torch.Tensor, b, r: int, alpha: float):
        super().__init__()
        out_f, in_f = w.shape
        self.weight = nn.Parameter(w, requires_grad=False)
        self.bias = nn.Parameter(b, requires_grad=False) if b is not None else None
        bound = 1 / math.sqrt(in_f)
        self.lora_A = nn.Parameter(torch.empty(r, in_f).uniform_(-bound, bound))
        self.lora_B = nn.Parameter(torch.zeros(out_f, r))
        self.scale = alpha / r
        self.enabled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        if self.enabled:
            y = y + F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scale
        return y


def rms_norm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Model(nn.Module):
    def __init__(self, cfg: dict, t: dict, r: int, alpha: float, targets: list, checkpoint: bool):
        super().__init__()
        self.cfg = cfg
        self.checkpoint = checkpoint
        self.h, self.kv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.d = cfg["hidden_size"] // self.h
        self.eps = cfg["rms_norm_eps"]
        bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
        self.embed = nn.Parameter(t["model.embed_tokens.weight"], requires_grad=False)
        self.norm = nn.Parameter(t["model.norm.weight"], requires_grad=False)
        self.layers = nn.ModuleList()
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            lay = nn.Module()
            for name, mod in (("q", "self_attn.q_proj"), ("k", "self_attn.k_proj"), ("v", "self_attn.v_proj"), ("o", "self_attn.o_proj"),
                              ("gate", "mlp.gate_proj"), ("up", "mlp.up_proj"), ("down", "mlp.down_proj")):
                b = t.get(p + mod + ".bias") if bias and name in ("q", "k", "v") else None
                w = t[p + mod + ".weight"]
                if mod.split(".")[1] in targets:
                    setattr(lay, name, LoraLinear(w, b, r, alpha))
                else:
                    lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
                    lin.weight = nn.Parameter(w, requires_grad=False)
                    if b is not None:
                        lin.bias = nn.Parameter(b, requires_grad=False)
                    setattr(lay, name, lin)
            lay.ln1 = nn.Parameter(t[p + "input_layernorm.weight"], requires_grad=False)
            lay.ln2 = nn.Parameter(t[p + "post_attention_layernorm.weight"], requires_grad=False)
            self.layers.append(lay)
        inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, self.d, 2, dtype=torch.float32) / self.d))
        self.register_buffer("inv_freq", inv)

    def set_lora(self, on: bool) -> None:
        for m in self.modules():
            if isinstance(m, LoraLinear):
                m.enabled = on

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        T = ids.shape[1]
        x = F.embedding(ids, self.embed)
        freqs = torch.outer(torch.arange(T, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((T, T), float("-inf")).triu(1)
        for lay in self.layers:
            if self.checkpoint and torch.is_grad_enabled():
                # transformers' gradient_checkpointing_enable(): each layer recomputed in the backward.
                x = torch.utils.checkpoint.checkpoint(self.block, lay, x, cos, sin, mask, use_reentrant=False)
            else:
                x = self.block(lay, x, cos, sin, mask)
        return rms_norm(x, self.norm, self.eps) @ self.embed.t()

    def block(self, lay: nn.Module, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        bsz, T, _ = x.shape
        hs = rms_norm(x, lay.ln1, self.eps)
        q = lay.q(hs).view(bsz, T, self.h, self.d).transpose(1, 2)
        k = lay.k(hs).view(bsz, T, self.kv, self.d).transpose(1, 2)
        v = lay.v(hs).view(bsz, T, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(self.h // self.kv, dim=1)
        v = v.repeat_interleave(self.h // self.kv, dim=1)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.d) + mask, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(bsz, T, -1)
        x = x + lay.o(y)
        hs = rms_norm(x, lay.ln2, self.eps)
        x = x + lay.down(F.silu(lay.gate(hs)) * lay.up(hs))
        return x


def seq_logps(logits: torch.Tensor, ids: torch.Tensor, cmask: torch.Tensor) -> torch.Tensor:
    lp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (lp * cmask[:, 1:]).sum(-1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--pairs", required=True, help="JSON file: ids [2B, T] (chosen rows, then rejected) and cmask [2B, T]")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--targets", default="q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj")
    ap.add_argument("--lr", type=float, default=5e-6)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--checkpoint", type=int, default=0, help="1: gradient checkpointing per layer (as ours)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = json.load(open(f"{a.model}/config.json"))
    model = Model(cfg, read_safetensors(f"{a.model}/model.safetensors"), a.rank, a.alpha, a.targets.split(","), a.checkpoint == 1)
    lora = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(lora, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    batch = json.load(open(a.pairs))
    ids = torch.tensor(batch["ids"], dtype=torch.long)
    cmask = torch.tensor(batch["cmask"], dtype=torch.float32)
    B = ids.shape[0] // 2
    step_s, step_cpu_s, losses, phases = [], [], [], {"reference_forward": 0.0, "policy_forward_and_loss": 0.0, "backward": 0.0, "optimizer": 0.0}
    for s in range(a.steps):
        t0 = time.perf_counter()
        c0 = time.process_time()
        with torch.no_grad():
            model.set_lora(False)
            ref = seq_logps(model(ids), ids, cmask)
            model.set_lora(True)
        t1 = time.perf_counter()
        pol = seq_logps(model(ids), ids, cmask)
        h = (pol[:B] - ref[:B]) - (pol[B:] - ref[B:])
        loss = -F.logsigmoid(a.beta * h).mean()
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(lora, 1.0)
        opt.step()
        t4 = time.perf_counter()
        step_s.append(t4 - t0)
        step_cpu_s.append(time.process_time() - c0)
        losses.append(loss.item())
        if s > 0:
            for k, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                phases[k] += dt / (a.steps - 1)
    print(json.dumps({
        "step_s": step_s,
        "step_cpu_s": step_cpu_s,
        "losses": losses,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "phases_s": phases,
        "torch": torch.__version__,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
