#!/usr/bin/env python3
"""Writes test/data/legacy-torch/: the tiny fixture model saved by real PyTorch in the legacy (pre-1.6,
non-zip) torch.save format, plus two malicious pickles. Committed as test data: CI has no PyTorch.

  fp32/pytorch_model.bin      the fixture's state dict, float32   (safetensors path: the fixture itself)
  fp16/pytorch_model.bin      the same cast to float16            (+ fp16/model.safetensors, same tensors)
  bf16/pytorch_model.bin      the same cast to bfloat16           (+ bf16/model.safetensors, same tensors)
  shared/pytorch_model.bin    float32, query/key/value of each layer are views into ONE fused storage
                              (offsets into a shared storage) and the classifier weight is a transposed
                              (non-contiguous) view: storage sharing and strides as torch writes them
  malicious-legacy.bin        a dict whose value's __reduce__ calls os.system, legacy format
  malicious-zip.bin           the same, zip format
  small-legacy.bin            a few small tensors (every dtype the reader takes, shared and strided views),
  small-zip.bin               legacy and zip format: seeds for the fuzzer (test/fuzz)
The malicious files would run `touch <marker>` if unpickled by Python; the reader must refuse them.

Run: /usr/bin/python3 scripts/make-legacy-torch-checkpoints.py [path/to/shared/fixtures/models/tiny]
"""
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TINY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, '..', 'shared', 'fixtures', 'models', 'tiny')
OUT = os.path.join(REPO, 'test', 'data', 'legacy-torch')
MARKER = '/tmp/ast-audio-legacy-pickle-ran'

ST_DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}
ST_NAMES = {v: k for k, v in ST_DTYPES.items()}


def read_safetensors(path):
    """The safetensors format, read by hand (the `safetensors` package is not installed here)."""
    with open(path, 'rb') as f:
        blob = f.read()
    (n,) = struct.unpack('<Q', blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        begin, end = info['data_offsets']
        t = torch.frombuffer(bytearray(data[begin:end]), dtype=ST_DTYPES[info['dtype']])
        out[name] = t.reshape(info['shape']).clone()
    return out


def write_safetensors(path, tensors):
    """safetensors as the format's README describes it: sorted names, 8-byte padded JSON header."""
    header, chunks, pos = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {'dtype': ST_NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [pos, pos + len(raw)]}
        chunks.append(raw)
        pos += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(chunks))


def save_legacy(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


class RunsCode:
    """What a hostile checkpoint holds: unpickling it calls os.system."""

    def __reduce__(self):
        return (os.system, (f'touch {MARKER}',))


def main():
    sd = read_safetensors(os.path.join(TINY, 'model.safetensors'))
    for sub in ('fp32', 'fp16', 'bf16', 'shared'):
        os.makedirs(os.path.join(OUT, sub), exist_ok=True)

    save_legacy(sd, os.path.join(OUT, 'fp32', 'pytorch_model.bin'))
    for sub, dtype in (('fp16', torch.float16), ('bf16', torch.bfloat16)):
        cast = {k: v.to(dtype) for k, v in sd.items()}
        save_legacy(cast, os.path.join(OUT, sub, 'pytorch_model.bin'))
        write_safetensors(os.path.join(OUT, sub, 'model.safetensors'), cast)

    shared = dict(sd)
    layers = sorted({k.split('.')[3] for k in sd if k.startswith('audio_spectrogram_transformer.encoder.layer.')})
    for i in layers:
        p = f'audio_spectrogram_transformer.encoder.layer.{i}.attention.attention.'
        fused = torch.cat([sd[p + 'query.weight'], sd[p + 'key.weight'], sd[p + 'value.weight']])
        h = sd[p + 'query.weight'].shape[0]
        for j, part in enumerate(('query', 'key', 'value')):
            shared[p + part + '.weight'] = fused[j * h:(j + 1) * h]  # storage offset j * h * in_features
    w = sd['classifier.dense.weight']
    shared['classifier.dense.weight'] = w.t().contiguous().t()  # strides (1, out): not contiguous
    assert not shared['classifier.dense.weight'].is_contiguous()
    save_legacy(shared, os.path.join(OUT, 'shared', 'pytorch_model.bin'))

    evil = {'weight': torch.zeros(2), 'bias': RunsCode()}
    save_legacy(evil, os.path.join(OUT, 'malicious-legacy.bin'))
    torch.save(evil, os.path.join(OUT, 'malicious-zip.bin'))

    base = torch.arange(12, dtype=torch.float32)
    small = {
        'f32': base.view(3, 4), 'f32.t': base.view(3, 4).t(), 'f32.view': base[2:7],
        'f16': torch.ones(2, 3, dtype=torch.float16), 'bf16': torch.full((4,), 0.5, dtype=torch.bfloat16),
        'f64': torch.linspace(0, 1, 5, dtype=torch.float64), 'i64': torch.arange(3), 'i32': torch.arange(4, dtype=torch.int32),
        'bool': torch.tensor([True, False]), 'scalar': torch.tensor(2.5), 'empty': torch.zeros(0, 3),
    }
    save_legacy(small, os.path.join(OUT, 'small-legacy.bin'))
    torch.save(small, os.path.join(OUT, 'small-zip.bin'))

    # Check what was written with torch itself (weights_only would refuse the malicious files).
    for sub in ('fp32', 'fp16', 'bf16', 'shared'):
        back = torch.load(os.path.join(OUT, sub, 'pytorch_model.bin'))
        for k, v in sd.items():
            assert torch.equal(back[k].float(), v.to(back[k].dtype).float()), (sub, k)
    print(f'wrote {OUT} with torch {torch.__version__}')


if __name__ == '__main__':
    main()
