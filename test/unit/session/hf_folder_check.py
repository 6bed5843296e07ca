"""Reads a run's checkpoint or final folder with Python's standard library only (json + struct, no torch) and
checks it is laid out as transformers / PEFT / TRL lay out theirs. Usage:

    python3 hf_folder_check.py model <folder>     config.json + model.safetensors of a Llama-family model
    python3 hf_folder_check.py adapter <folder>   adapter_config.json + adapter_model.safetensors (PEFT LoRA)
    python3 hf_folder_check.py state <folder>     trainer_state.json (transformers' TrainerState)

Prints one JSON line with what it read; exits 1 with the problems on stderr when the layout is wrong.
"""

import json
import os
import struct
import sys

# transformers' LlamaConfig.__init__ arguments (models/llama/configuration_llama.py), Qwen2/Qwen3/Mistral add the
# sliding-window keys; v5 adds rope_parameters.
LLAMA_CONFIG_KEYS = {
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "hidden_act", "max_position_embeddings", "initializer_range", "rms_norm_eps",
    "use_cache", "pad_token_id", "bos_token_id", "eos_token_id", "pretraining_tp", "tie_word_embeddings",
    "rope_theta", "rope_scaling", "rope_parameters", "attention_bias", "attention_dropout", "mlp_bias", "head_dim",
}
# PretrainedConfig's own keys that every saved config may carry.
COMMON_CONFIG_KEYS = {"architectures", "model_type", "torch_dtype", "dtype", "transformers_version", "num_labels", "id2label", "label2id"}
REQUIRED_LLAMA_KEYS = {"architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                       "num_attention_heads", "num_key_value_heads", "hidden_act", "max_position_embeddings", "rms_norm_eps",
                       "rope_theta", "tie_word_embeddings"}

# transformers' TrainerState dataclass fields (trainer_callback.py), as save_to_json writes them.
TRAINER_STATE_KEYS = {
    "epoch", "global_step", "max_steps", "logging_steps", "eval_steps", "save_steps", "train_batch_size",
    "num_train_epochs", "num_input_tokens_seen", "total_flos", "log_history", "best_metric", "best_global_step",
    "best_model_checkpoint", "is_local_process_zero", "is_world_process_zero", "is_hyper_param_search",
    "trial_name", "trial_params", "stateful_callbacks",
}

problems = []


def safetensors_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n).decode("utf-8"))
        size = os.fstat(f.fileno()).st_size
    meta = header.pop("__metadata__", {})
    end = max((t["data_offsets"][1] for t in header.values()), default=0)
    if 8 + n + end != size:
        problems.append(f"{path}: header says {8 + n + end} bytes, the file has {size}")
    return {k: t["shape"] for k, t in header.items()}, {k: t["dtype"] for k, t in header.items()}, meta


def expected_llama_tensors(c):
    d, h, kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or d // h
    ff, v = c["intermediate_size"], c["vocab_size"]
    out = {"model.embed_tokens.weight": [v, d], "model.norm.weight": [d]}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out[p + "input_layernorm.weight"] = [d]
        out[p + "post_attention_layernorm.weight"] = [d]
        out[p + "self_attn.q_proj.weight"] = [h * hd, d]
        out[p + "self_attn.k_proj.weight"] = [kv * hd, d]
        out[p + "self_attn.v_proj.weight"] = [kv * hd, d]
        out[p + "self_attn.o_proj.weight"] = [d, h * hd]
        out[p + "mlp.gate_proj.weight"] = [ff, d]
        out[p + "mlp.up_proj.weight"] = [ff, d]
        out[p + "mlp.down_proj.weight"] = [d, ff]
    if not c["tie_word_embeddings"]:
        out["lm_head.weight"] = [v, d]
    return out


def check_model(folder):
    with open(os.path.join(folder, "config.json")) as f:
        c = json.load(f)
    keys = set(c)
    if c.get("model_type") != "llama":
        problems.append(f"model_type {c.get('model_type')!r}, this check knows llama")
    unknown = keys - LLAMA_CONFIG_KEYS - COMMON_CONFIG_KEYS
    missing = REQUIRED_LLAMA_KEYS - keys
    if unknown:
        problems.append(f"config.json keys transformers' LlamaConfig does not have: {sorted(unknown)}")
    if missing:
        problems.append(f"config.json lacks {sorted(missing)}")
    if c.get("architectures") != ["LlamaForCausalLM"]:
        problems.append(f"architectures {c.get('architectures')}")
    shapes, dtypes, meta = safetensors_header(os.path.join(folder, "model.safetensors"))
    want = expected_llama_tensors(c)
    if set(shapes) != set(want):
        problems.append(f"tensor names: extra {sorted(set(shapes) - set(want))}, missing {sorted(set(want) - set(shapes))}")
    for k in set(shapes) & set(want):
        if shapes[k] != want[k]:
            problems.append(f"{k}: shape {shapes[k]}, HF layout is {want[k]}")
    if meta.get("format") != "pt":
        problems.append(f"__metadata__.format {meta.get('format')!r}, transformers writes 'pt'")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if not os.path.exists(os.path.join(folder, f)):
            problems.append(f"no {f}")
    return {"model_type": c["model_type"], "tensors": len(shapes), "dtypes": sorted(set(dtypes.values()))}


def check_adapter(folder):
    with open(os.path.join(folder, "adapter_config.json")) as f:
        a = json.load(f)
    for k, v in (("peft_type", "LORA"), ("task_type", "CAUSAL_LM")):
        if a.get(k) != v:
            problems.append(f"adapter_config.json {k} = {a.get(k)!r}, expected {v!r}")
    r = a["r"]
    shapes, _, _ = safetensors_header(os.path.join(folder, "adapter_model.safetensors"))
    for k, s in shapes.items():
        parts = k.split(".")
        ok = k.startswith("base_model.model.model.layers.") and parts[-2] in ("lora_A", "lora_B") and parts[-1] == "weight"
        if not ok or parts[-3] not in a["target_modules"]:
            problems.append(f"{k}: not a PEFT LoRA name for targets {a['target_modules']}")
        elif (parts[-2] == "lora_A" and s[0] != r) or (parts[-2] == "lora_B" and s[1] != r):
            problems.append(f"{k}: shape {s} does not hold rank {r} where PEFT puts it")
    if not shapes:
        problems.append("adapter_model.safetensors holds no tensors")
    return {"r": r, "target_modules": a["target_modules"], "tensors": sorted(shapes)}


def check_state(folder):
    with open(os.path.join(folder, "trainer_state.json")) as f:
        s = json.load(f)
    if set(s) != TRAINER_STATE_KEYS:
        problems.append(f"trainer_state.json keys: extra {sorted(set(s) - TRAINER_STATE_KEYS)}, missing {sorted(TRAINER_STATE_KEYS - set(s))}")
    for i, r in enumerate(s.get("log_history", [])):
        if not isinstance(r.get("step"), int) or not isinstance(r.get("epoch"), (int, float)):
            problems.append(f"log_history[{i}] lacks step/epoch")
    steps = [r["step"] for r in s.get("log_history", [])]
    if steps != sorted(steps) or any(st > s["global_step"] for st in steps):
        problems.append(f"log_history steps {steps} are not in order up to global_step {s['global_step']}")
    return {"global_step": s["global_step"], "max_steps": s["max_steps"], "log_history": s["log_history"]}


if __name__ == "__main__":
    kind, folder = sys.argv[1], sys.argv[2]
    result = {"model": check_model, "adapter": check_adapter, "state": check_state}[kind](folder)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))
