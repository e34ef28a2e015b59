"""The transformers side of the GPU benchmark (bench/gpu/README.md).

Hugging Face transformers' ASTForAudioClassification on the checkpoint that `ours.ts checkpoint` wrote
(config.json + model.safetensors + input_values.npy), with attn_implementation eager and sdpa, fp32 and
fp16, at each batch: median wall time of 20 forwards after warm-up (torch.cuda.synchronize after each, so
a time is the whole batch), and max |logits - our CPU fp32 logits| (ref_logits_cpu_fp32.npy), so a wrong
weight load shows as a large difference rather than a fast number.

  python3 hf_bench.py --model DIR --json OUT.json [--device cuda] [--attn eager,sdpa] [--dtypes fp32,fp16]
                      [--batches 1,2,4,8] [--iters 20] [--warmup 3]
  python3 hf_bench.py ... --oracle /path/oracle.py   # dry run without transformers: the project's PyTorch
                                                     # port of the same module (eager, fp32 on CPU only)
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def log(s):
    print(f"[transformers] {s}", file=sys.stderr, flush=True)


# transformers 5 renamed AST's modules (q_proj, mlp.fc1, layers.N); its loader maps checkpoints with the 4.x
# names through these same rules (conversion_mapping.py, "ASTModel" -> "ViTModel"). Used only if it did not.
V4_TO_V5 = [
    (r"encoder\.layer\.", "layers."),
    (r"attention\.query", "q_proj"),
    (r"attention\.key", "k_proj"),
    (r"attention\.value", "v_proj"),
    (r"attention\.output\.dense", "attention.o_proj"),
    (r"intermediate\.dense", "mlp.fc1"),
    (r"output\.dense", "mlp.fc2"),
]


def load_renamed(model, model_dir):
    """Loads model.safetensors into `model` with V4_TO_V5 applied, strictly (every key, every shape)."""
    import re

    from safetensors.torch import load_file

    sd = {}
    for k, v in load_file(os.path.join(model_dir, "model.safetensors")).items():
        for pat, new in V4_TO_V5:
            k = re.sub(pat, new, k)
        sd[k] = v
    dtype = next(model.parameters()).dtype
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True)


def load_transformers(model_dir, attn, dtype, device):
    from transformers import ASTForAudioClassification

    kwargs = dict(attn_implementation=attn, output_loading_info=True)
    # transformers 5 names it dtype; 4.x torch_dtype
    try:
        model, info = ASTForAudioClassification.from_pretrained(model_dir, dtype=dtype, **kwargs)
    except TypeError:
        model, info = ASTForAudioClassification.from_pretrained(model_dir, torch_dtype=dtype, **kwargs)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        # a key left at its random init would make the timing meaningless: load by hand, strictly, or fail
        log(f"from_pretrained left {json.dumps({k: list(v)[:3] for k, v in bad.items()}, default=str)}; loading by hand")
        load_renamed(model, model_dir)
    used = getattr(model.config, "_attn_implementation", attn)
    if used != attn:
        raise RuntimeError(f"asked for attn_implementation={attn}, model uses {used}")
    return model.to(device).eval()


def load_oracle(path, model_dir, attn, dtype, device):
    if attn != "eager" or dtype != torch.float32:
        raise RuntimeError("the oracle dry run has eager fp32 only")
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    import oracle  # noqa: E402

    model, _, _ = oracle.load_model(model_dir)
    return model.to(device).eval()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--json", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--attn", default="eager,sdpa")
    p.add_argument("--dtypes", default="fp32,fp16")
    p.add_argument("--batches", default="1,2,4,8")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--oracle", help="dry run: oracle.py instead of transformers")
    a = p.parse_args()

    x_all = torch.from_numpy(np.load(os.path.join(a.model, "input_values.npy")))
    ref = np.load(os.path.join(a.model, "ref_logits_cpu_fp32.npy")).astype(np.float64)
    device = torch.device(a.device)
    env = {"torch": torch.__version__, "device": a.device}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
    try:
        import transformers

        env["transformers"] = transformers.__version__
    except ImportError:
        env["transformers"] = None
    rows = []

    def save():
        with open(a.json, "w") as f:
            json.dump({"env": env, "rows": rows}, f, indent=2)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    batches = [int(b) for b in a.batches.split(",")]
    for attn in a.attn.split(","):
        for dname in a.dtypes.split(","):
            dtype = DTYPES[dname]
            base = {"impl": "transformers", "attn": attn, "dtype": dname}
            try:
                t0 = time.perf_counter()
                if a.oracle:
                    model = load_oracle(a.oracle, a.model, attn, dtype, device)
                else:
                    model = load_transformers(a.model, attn, dtype, device)
                load_ms = (time.perf_counter() - t0) * 1e3
            except Exception as e:  # a failed configuration is a row, not the end of the run
                log(f"{attn} {dname}: load failed: {e}")
                rows.extend({**base, "batch": b, "error": str(e)[:400]} for b in batches)
                save()
                continue
            for b in batches:
                try:
                    x = x_all[:b].to(device=device, dtype=dtype)
                    with torch.inference_mode():
                        t1 = time.perf_counter()
                        out = model(x)
                        sync()
                        first_ms = (time.perf_counter() - t1) * 1e3
                        for _ in range(a.warmup - 1):
                            model(x)
                        sync()
                        times = []
                        for _ in range(a.iters):
                            t = time.perf_counter()
                            out = model(x)
                            sync()
                            times.append((time.perf_counter() - t) * 1e3)
                    logits = out["logits"] if isinstance(out, dict) else out.logits
                    got = logits.float().cpu().numpy().astype(np.float64)
                    r = ref[:b]
                    d = float(np.max(np.abs(got - r)))
                    row = {**base, "batch": b, "medianMs": statistics.median(times), "minMs": min(times),
                           "maxMs": max(times), "firstRunMs": first_ms, "loadMs": load_ms, "iters": a.iters,
                           "maxAbsDiff": d, "relDiff": d / float(np.max(np.abs(r)))}
                    log(f"{attn} {dname} b{b}: median {row['medianMs']:.2f} ms, max|dlogits| {d:.2e}")
                    rows.append(row)
                except Exception as e:
                    log(f"{attn} {dname} b{b}: {e}")
                    rows.append({**base, "batch": b, "error": str(e)[:400]})
                save()
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()
    save()


if __name__ == "__main__":
    main()
