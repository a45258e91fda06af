#!/usr/bin/env python3
"""Converts PyTorch checkpoints to safetensors weight files for pixelgrad, and back.

    convert_pth.py model.pth weights.safetensors [--key model_state] [--keep-prefix]
                   [--strip-prefix Scale.] [--drop layer5.]
    convert_pth.py --reverse weights.safetensors model.pth [--wrap state_dict]

Forward: the .pth may be a bare state_dict or one wrapped as `state_dict`, `model_state`,
`teacher_state` or `model` (the original U2PL, AdvSemiSeg and RIPU checkpoints); --key picks the
entry when several are present (default: the first of that list found). A `module.` prefix left by
DataParallel is stripped unless --keep-prefix. Non-tensor entries (epoch, optimizer, ...) are
dropped and listed. --strip-prefix removes another prefix (AdvSemiSeg's COCO DeepLab-v2 keys start
with `Scale.`); --drop leaves out the keys that start with a prefix (its `layer5.`, which the
original does not load for 21 classes). Tensors keep their PyTorch layout and dtype: pixelgrad converts layouts on load.
Reverse: writes a state_dict (optionally wrapped in a dict under --wrap) that torch.load reads.

Needs torch (Debian: apt-get install python3-torch; run with /usr/bin/python3). `--self-test`
checks both directions on a synthetic U2PL-style checkpoint.
"""
import argparse
import json
import os
import struct
import sys
import tempfile

import torch

WRAPPERS = ("state_dict", "model_state", "teacher_state", "model")
TO_ST = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
         torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
         torch.uint8: "U8", torch.bool: "BOOL"}
FROM_ST = {v: k for k, v in TO_ST.items()}


def unwrap(obj, key):
    """Returns (state_dict, which entry it came from)."""
    if not isinstance(obj, dict):
        raise SystemExit(f"error: expected a dict in the checkpoint, got {type(obj).__name__}")
    if key is not None:
        if key not in obj:
            raise SystemExit(f"error: no entry '{key}' in the checkpoint (has: {sorted(obj)[:10]})")
        return obj[key], key
    for name in WRAPPERS:
        if name in obj and isinstance(obj[name], dict):
            return obj[name], name
    return obj, None


def tensors_only(state, keep_prefix, strip=(), drop=()):
    out, dropped = {}, []
    for k, v in state.items():
        if not isinstance(v, torch.Tensor):
            dropped.append(k)
            continue
        if not keep_prefix and k.startswith("module."):
            k = k[len("module."):]
        for prefix in strip:
            if k.startswith(prefix):
                k = k[len(prefix):]
        if any(k.startswith(prefix) for prefix in drop):
            dropped.append(k)
            continue
        if k in out:
            raise SystemExit(f"error: two entries become '{k}' after stripping 'module.'")
        out[k] = v.detach().cpu().contiguous()
    return out, dropped


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for k in sorted(tensors):
        t = tensors[k]
        if t.dtype not in TO_ST:
            raise SystemExit(f"error: {k}: dtype {t.dtype} has no safetensors equivalent")
        raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
        data = raw.numpy().tobytes()
        header[k] = {"dtype": TO_ST[t.dtype], "shape": list(t.shape),
                     "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)  # never a half-written file under the final name


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise SystemExit(f"error: {path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise SystemExit(f"error: {path}: header of {n} bytes runs past the end of the file")
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    base, out = 8 + n, {}
    for k, info in header.items():
        start, end = info["data_offsets"]
        if base + end > len(raw):
            raise SystemExit(f"error: {path}: tensor {k} runs past the end of the file (truncated?)")
        dtype = FROM_ST[info["dtype"]]
        buf = bytearray(raw[base + start:base + end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[k] = t.reshape(info["shape"]).clone()
    return out


def forward(args):
    obj = torch.load(args.input, map_location="cpu")
    state, entry = unwrap(obj, args.key)
    tensors, dropped = tensors_only(state, args.keep_prefix, getattr(args, "strip_prefix", None) or (),
                                    getattr(args, "drop", None) or ())
    write_safetensors(args.output, tensors, {"format": "pt", "source": os.path.basename(args.input)})
    where = f" (entry '{entry}')" if entry else ""
    print(f"{args.input}{where}: {len(tensors)} tensors -> {args.output}")
    if dropped:
        print(f"  dropped (non-tensor or --drop): {', '.join(dropped[:8])}{' ...' if len(dropped) > 8 else ''}")


def reverse(args):
    tensors = read_safetensors(args.input)
    obj = {args.wrap: tensors} if args.wrap else tensors
    torch.save(obj, args.output)
    print(f"{args.input}: {len(tensors)} tensors -> {args.output}")


def self_test():
    torch.manual_seed(0)
    state = {"module.encoder.conv1.0.weight": torch.randn(64, 3, 3, 3),
             "module.encoder.bn1.num_batches_tracked": torch.tensor(5),
             "module.decoder.classifier.bias": torch.randn(21),
             "module.half": torch.randn(3).to(torch.bfloat16)}
    with tempfile.TemporaryDirectory() as d:
        pth, st, back = (os.path.join(d, n) for n in ("a.pth", "a.safetensors", "b.pth"))
        torch.save({"epoch": 3, "model_state": state, "teacher_state": state}, pth)
        forward(argparse.Namespace(input=pth, output=st, key=None, keep_prefix=False))
        got = read_safetensors(st)
        assert sorted(got) == sorted(k[len("module."):] for k in state), sorted(got)
        for k, v in state.items():
            assert torch.equal(got[k[len("module."):]], v), k
        coco = {"Scale.conv1.weight": torch.randn(4, 3, 7, 7), "Scale.layer5.x.bias": torch.randn(2)}
        torch.save(coco, pth)
        forward(argparse.Namespace(input=pth, output=st, key=None, keep_prefix=False,
                                   strip_prefix=["Scale."], drop=["layer5."]))
        assert sorted(read_safetensors(st)) == ["conv1.weight"], sorted(read_safetensors(st))
        torch.save({"epoch": 3, "model_state": state, "teacher_state": state}, pth)
        forward(argparse.Namespace(input=pth, output=st, key=None, keep_prefix=False))
        reverse(argparse.Namespace(input=st, output=back, wrap="state_dict"))
        again = torch.load(back)["state_dict"]
        for k, v in got.items():
            assert torch.equal(again[k], v) and again[k].dtype == v.dtype, k
    print("convert_pth self-test: ok")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("input", nargs="?")
    p.add_argument("output", nargs="?")
    p.add_argument("--reverse", action="store_true", help="safetensors -> .pth")
    p.add_argument("--key", help=f"checkpoint entry holding the weights (default: first of {WRAPPERS})")
    p.add_argument("--keep-prefix", action="store_true", help="keep a 'module.' prefix")
    p.add_argument("--strip-prefix", action="append", help="also remove this key prefix (repeatable)")
    p.add_argument("--drop", action="append", help="leave out keys starting with this (repeatable)")
    p.add_argument("--wrap", help="with --reverse: store the state_dict under this key")
    p.add_argument("--self-test", action="store_true")
    args = p.parse_args()
    if args.self_test:
        return self_test()
    if not args.input or not args.output:
        p.error("input and output paths are required")
    (reverse if args.reverse else forward)(args)


if __name__ == "__main__":
    sys.exit(main())
