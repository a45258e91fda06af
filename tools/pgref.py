"""Shared helpers for the reference-dump scripts in tools/ (run with Debian's /usr/bin/python3).

Each tools/dump_<family>.py builds small inputs with a fixed seed, runs PyTorch, and writes the
inputs and outputs (converted to pixelgrad's layouts: NHWC activations, KRSC conv weights) into
tests/data/<family>.safetensors, which the C++ tests read. Only numpy and torch are needed.
"""
import json
import os
import struct

import numpy as np
import torch

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")

_DTYPES = {np.dtype("float32"): "F32", np.dtype("int32"): "I32", np.dtype("uint8"): "U8"}


def nhwc(t):
    """(N, C, H, W) -> (N, H, W, C)."""
    return t.permute(0, 2, 3, 1).contiguous()


def nchw(t):
    """(N, H, W, C) -> (N, C, H, W)."""
    return t.permute(0, 3, 1, 2).contiguous()


def krsc(w):
    """PyTorch conv weight (O, I, kH, kW) -> pixelgrad's (K, R, S, C)."""
    return w.permute(0, 2, 3, 1).contiguous()


def save(name, tensors):
    """Writes {name: torch tensor or numpy array} to tests/data/<name> as safetensors.

    float64 becomes float32 and int64 becomes int32, the dtypes pixelgrad's tests use.
    """
    arrays = {}
    for key, value in tensors.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        value = np.array(value, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
        if value.dtype == np.float64:
            value = value.astype(np.float32)
        if value.dtype == np.int64:
            value = value.astype(np.int32)
        if value.dtype == np.bool_:
            value = value.astype(np.uint8)
        assert value.dtype in _DTYPES, f"{key}: unsupported dtype {value.dtype}"
        arrays[key] = value
    header, offset = {}, 0
    for key in sorted(arrays):
        size = arrays[key].nbytes
        header[key] = {"dtype": _DTYPES[arrays[key].dtype], "shape": list(arrays[key].shape),
                       "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    os.makedirs(DATA_DIR, exist_ok=True)
    path = os.path.join(DATA_DIR, name)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for key in sorted(arrays):
            f.write(arrays[key].tobytes())
    os.replace(path + ".tmp", path)
    print(f"wrote {path} ({offset} bytes of tensors)")
