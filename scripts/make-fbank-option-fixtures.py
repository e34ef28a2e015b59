#!/usr/bin/python3
"""Reference outputs of torchaudio.compliance.kaldi.fbank for option combinations AST does not use
(windows, snip_edges=False, energy, magnitude, no log, no power-of-two rounding, subtract_mean,
frequency limits), on one short deterministic waveform. Run with Debian's python3-torchaudio:
  /usr/bin/python3 scripts/make-fbank-option-fixtures.py
Writes test/data/audio/fbank-options/{wave.npy, cases.json, <case>.npy}."""
import json, os
import numpy as np
import torch
import torchaudio.compliance.kaldi as K

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "data", "audio", "fbank-options")
os.makedirs(out, exist_ok=True)
n = np.arange(2400)
rng = np.random.RandomState(0)
wave = (0.4 * np.sin(2 * np.pi * 440 * n / 16000) + 0.2 * np.sin(2 * np.pi * 3100 * n / 16000) + 0.05 * rng.randn(len(n)) + 0.1).astype(np.float32)
np.save(os.path.join(out, "wave.npy"), wave)

# Options in torchaudio's names; the test maps them to ours.
cases = {
    "povey_default": dict(num_mel_bins=23),
    "hamming_snip_false": dict(window_type="hamming", snip_edges=False, num_mel_bins=40),
    "blackman_energy": dict(window_type="blackman", use_energy=True, num_mel_bins=30),
    "rect_energy_htk_not_raw": dict(window_type="rectangular", use_energy=True, htk_compat=True, raw_energy=False, num_mel_bins=24),
    "hanning_magnitude_nolog": dict(window_type="hanning", use_power=False, use_log_fbank=False, num_mel_bins=26),
    "hanning_no_round_30ms": dict(window_type="hanning", round_to_power_of_two=False, frame_length=30.0, num_mel_bins=23),
    "hanning_band_subtract_mean": dict(window_type="hanning", low_freq=300.0, high_freq=-1000.0, subtract_mean=True, num_mel_bins=20),
    "no_dc_no_preemph_8k": dict(window_type="hanning", remove_dc_offset=False, preemphasis_coefficient=0.0, sample_frequency=8000.0, num_mel_bins=15),
}
for name, opts in cases.items():
    fb = K.fbank(torch.from_numpy(wave).unsqueeze(0), dither=0.0, **opts)
    np.save(os.path.join(out, f"{name}.npy"), fb.numpy().astype(np.float32))
with open(os.path.join(out, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
print(out, list(cases))
