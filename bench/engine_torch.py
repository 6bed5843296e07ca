"""PyTorch CPU baseline for bench/engine.ts: the same compact GPT (bench/engineGpt.ts), the same AdamW,
gradient clipping and warmup + cosine schedule, the same thread count. Prints one JSON object on stdout.

The model mirrors engineGpt.ts operation for operation: token + position embeddings, pre-LN blocks with a
fused qkv projection, explicit causal softmax attention (torch 1.13 has no fused SDPA), tanh-GELU MLP of 4C,
final LayerNorm, logits tied to the token embedding, mean cross-entropy.
"""

import argparse
import json
import math
import os
import re
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c: int, h: int):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(c)
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.mlp_proj = nn.Linear(4 * c, c)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        d = c // self.h
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q = q.view(b, t, self.h, d).transpose(1, 2)  # [B, H, T, D]
        k = k.view(b, t, self.h, d).transpose(1, 2)
        v = v.view(b, t, self.h, d).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        att = att.masked_fill(~mask, torch.finfo(att.dtype).min)
        y = F.softmax(att, dim=-1) @ v
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab: int, seq: int, c: int, h: int, layers: int):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(seq, c)
        self.blocks = nn.ModuleList([Block(c, h) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(c)
        self.register_buffer("mask", torch.tril(torch.ones(seq, seq, dtype=torch.bool)))
        resid = 0.02 / math.sqrt(2 * layers)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, resid if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe.weight[:t]
        for blk in self.blocks:
            x = blk(x, self.mask[:t, :t])
        logits = self.ln_f(x) @ self.wte.weight.t()  # tied embeddings
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def blas_in_use() -> str:
    """The BLAS shared object actually mapped into this process (after a matmul has run)."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if re.search(r"blas|lapack|mkl", line.split()[-1] if line.split() else "")})
        return ", ".join(os.path.realpath(p) for p in libs) or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", type=int, default=0, help="after the timed steps, profile one more step (torch.profiler) and report the top ops")
    ap.add_argument("--serve", action="store_true", help="after one warm-up step, take commands on stdin (see serve())")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    model = Gpt(a.vocab, a.seq, a.dim, a.heads, a.layers)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    total = a.warmup + a.steps
    warm = max(1, total // 10)

    def lam(t: int) -> float:
        if t < warm:
            return t / warm
        p = min(1.0, (t - warm) / max(1, total - warm))
        return 0.5 * (1 + math.cos(math.pi * p))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam)
    g = torch.Generator().manual_seed(a.seed)

    def batch(i: int) -> torch.Tensor:
        return torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=g)

    losses = []
    times = []
    cpu = []

    def step(i: int) -> float:
        b = batch(i)
        ids, targets = b[:, :-1], b[:, 1:]
        loss = model(ids, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        return loss.item()

    def profile_step(i: int) -> dict:
        # torch.profiler's self CPU time per aten op over one step (the profiler's overhead is spread over all
        # ops; the shares are what matter). Its first use carries its start-up cost: profile one step and
        # discard it, then the next.
        from torch.profiler import ProfilerActivity, profile as tprofile

        for j in (i, i + 1):
            with tprofile(activities=[ProfilerActivity.CPU]) as prof:
                step(j)
        rows = [(e.key, e.self_cpu_time_total / 1000.0) for e in prof.key_averages()]
        tot = sum(ms for _, ms in rows)
        rows.sort(key=lambda r: -r[1])
        mm = sum(ms for k, ms in rows if k in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"))
        return {"total_ms": tot, "matmul_ms": mm, "top_ops_ms": {k: round(ms, 1) for k, ms in rows[:15]}}

    def info() -> dict:
        cfg = torch.__config__.show()
        blas_info = re.search(r"BLAS_INFO=([^,\n]+)", cfg)
        return {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "params": sum(p.numel() for p in model.parameters()),
            "blas_build": blas_info.group(1) if blas_info else "unknown",
            "blas_loaded": blas_in_use(),
            "parallel_info": torch.__config__.parallel_info(),
        }

    if a.serve:
        return serve(step, profile_step, info)

    for i in range(total):
        t0 = time.perf_counter()
        c0 = time.process_time()
        losses.append(step(i))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)

    profile = profile_step(total) if a.profile else None

    timed = times[a.warmup:]
    print(json.dumps({
        **info(),
        "steps_timed": len(timed),
        "seconds_per_step": sum(timed) / len(timed),
        "steps_per_s": len(timed) / sum(timed),
        "cpu_seconds_per_step": sum(cpu[a.warmup:]) / len(timed),
        "losses": losses,
        "profile": profile,
    }))


_gemm_operands: dict = {}


def time_gemm(case: dict, calls: int) -> dict:
    """C = op(A) op(B) as the step runs it (torch.mm / torch.bmm on transposed views, which OpenBLAS takes as
    transpose flags, no copy), into preallocated outputs, on case["copies"] distinct operand pairs in rotation
    (as bench/engineGemms.ts does); CPU and wall seconds per GEMM."""
    key = json.dumps(case, sort_keys=True)
    if key not in _gemm_operands:
        b, m, k, n = case["batch"], case["m"], case["k"], case["n"]
        pre = (b,) if b > 1 else ()
        sets = []
        for _ in range(case["copies"]):
            a = torch.rand(*pre, *((k, m) if case["transA"] else (m, k))) - 0.5
            w = torch.rand(*pre, *((n, k) if case["transB"] else (k, n))) - 0.5
            a = a.transpose(-1, -2) if case["transA"] else a
            w = w.transpose(-1, -2) if case["transB"] else w
            sets.append((a, w, torch.empty(*pre, m, n)))
        fn = torch.bmm if b > 1 else torch.mm
        for a, w, out in sets:
            fn(a, w, out=out)  # warm-up
        _gemm_operands[key] = (fn, sets)
    fn, sets = _gemm_operands[key]
    t0 = time.perf_counter()
    c0 = time.process_time()
    for _ in range(calls):
        for a, w, out in sets:
            fn(a, w, out=out)
    n = calls * len(sets)
    return {"cpu": (time.process_time() - c0) / n, "wall": (time.perf_counter() - t0) / n}


def serve(step, profile_step, info) -> None:
    """Interleaved measurement: one warm-up step, then one JSON line on stdout per command line on stdin.

    steps N  -> {"wall": s, "cpu": s, "losses": [...]}   N training steps, wall and process CPU seconds
    profile  -> {"profile": {...}}                        torch.profiler top ops of one step
    gemm CASE CALLS -> {"cpu": s, "wall": s}             one GEMM of the step (bench/engineGemms.ts), per call
    info     -> torch version, threads, parameter count, BLAS
    (end of input ends the process)
    """
    i = 0
    step(i)
    i += 1
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "steps":
            n = int(cmd[1])
            t0 = time.perf_counter()
            c0 = time.process_time()
            ls = []
            for _ in range(n):
                ls.append(step(i))
                i += 1
            out = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "losses": ls}
        elif cmd[0] == "profile":
            out = {"profile": profile_step(i)}
            i += 2
        elif cmd[0] == "info":
            out = info()
        elif cmd[0] == "gemm":
            out = time_gemm(json.loads(cmd[1]), int(cmd[2]))
        else:
            out = {"error": f"unknown command {cmd[0]!r}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    sys.exit(main())
