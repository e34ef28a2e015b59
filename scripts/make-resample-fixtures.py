#!/usr/bin/python3
"""torchaudio.functional.resample (defaults) outputs for rate pairs beyond the shared fixtures,
on short deterministic float32 signals. Run: /usr/bin/python3 scripts/make-resample-fixtures.py
Writes test/data/audio/resample-pairs/{cases.json, <orig>_<new>.in.npy, <orig>_<new>.out.npy}."""
import json, os
import numpy as np
import torch
import torchaudio.functional as F

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "data", "audio", "resample-pairs")
os.makedirs(out, exist_ok=True)
pairs = [(48000, 16000), (16000, 48000), (44100, 22050), (11025, 16000), (16000, 8000), (32000, 44100), (96000, 16000), (7, 5)]
rng = np.random.RandomState(1)
for orig, new in pairs:
    n = max(40, orig // 20)  # 50 ms, at least 40 samples
    t = np.arange(n) / orig
    x = (0.5 * np.sin(2 * np.pi * min(1000, orig / 5) * t) + 0.1 * rng.randn(n)).astype(np.float32)
    y = F.resample(torch.from_numpy(x), orig, new).numpy()
    np.save(os.path.join(out, f"{orig}_{new}.in.npy"), x)
    np.save(os.path.join(out, f"{orig}_{new}.out.npy"), y.astype(np.float32))
with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump([dict(orig=o, new=n) for o, n in pairs], f)
print(out)
