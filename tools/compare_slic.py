#!/usr/bin/env python3
"""Our SLIC (`pixelgrad superpixels`) against scikit-image's slic on the same images, scored by
boundary recall and under-segmentation error against the ground-truth label maps.

  /usr/bin/python3 tools/compare_slic.py --root data/synth --list splits/64/labeled.txt \
      --pixelgrad build/pixelgrad --pixels-per-superpixel 40

Needs Debian's python3-skimage. Boundary recall: the share of ground-truth boundary pixels within
`--tolerance` pixels (Chebyshev) of a superpixel boundary pixel. Under-segmentation error (Neubert
and Protzel's form): (1/N) sum over truth segments g, superpixels s meeting g, of
min(|s & g|, |s - g|). Pixels labelled 255 are left out of both truth segments and N.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image
from skimage import io, segmentation
from scipy import ndimage


def boundaries(labels):
    """Pixels whose right or lower neighbour has another id (both sides marked)."""
    b = np.zeros(labels.shape, bool)
    dx = labels[:, 1:] != labels[:, :-1]
    dy = labels[1:, :] != labels[:-1, :]
    b[:, 1:] |= dx
    b[:, :-1] |= dx
    b[1:, :] |= dy
    b[:-1, :] |= dy
    return b


def boundary_recall(superpixels, truth, tolerance):
    t = boundaries(truth)
    if not t.any():
        return None
    near = ndimage.binary_dilation(boundaries(superpixels), np.ones((2 * tolerance + 1,) * 2, bool))
    return float((t & near).sum()) / float(t.sum())


def undersegmentation_error(superpixels, truth):
    valid = truth != 255
    n = int(valid.sum())
    err = 0
    for g in np.unique(truth[valid]):
        in_g = truth == g
        for s in np.unique(superpixels[in_g]):
            in_s = (superpixels == s) & valid
            inter = int((in_s & in_g).sum())
            err += min(inter, int(in_s.sum()) - inter)
    return err / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="a dataset root with JPEGImages/ and SegmentationClass/")
    ap.add_argument("--list", required=True, help="ids (first word of each line), relative to --root")
    ap.add_argument("--pixelgrad", default="build/pixelgrad")
    ap.add_argument("--pixels-per-superpixel", type=float, default=40)
    ap.add_argument("--compactness", type=float, default=10)
    ap.add_argument("--tolerance", type=int, default=2)
    ap.add_argument("--limit", type=int, default=64, help="images scored (the first of the list)")
    a = ap.parse_args()
    with open(os.path.join(a.root, a.list)) as f:
        ids = [line.split()[0] for line in f if line.strip()][: a.limit]
    images = [os.path.join(a.root, "JPEGImages", i + ".jpg") for i in ids]
    truths = [os.path.join(a.root, "SegmentationClass", i + ".png") for i in ids]
    for p in images + truths:
        if not os.path.exists(p):
            sys.exit(f"compare_slic: {p} does not exist")
    out = tempfile.mkdtemp(prefix="pg_slic_")
    with open(os.path.join(out, "images.txt"), "w") as f:
        f.write("\n".join(images) + "\n")
    t0 = time.time()
    subprocess.run([a.pixelgrad, "superpixels", "--list", os.path.join(out, "images.txt"), "--out", out,
                    "--pixels-per-superpixel", str(a.pixels_per_superpixel),
                    "--compactness", str(a.compactness)], check=True, stdout=subprocess.DEVNULL)
    ours_s = time.time() - t0
    rows = {"pixelgrad": [], "skimage": []}
    sk_s = 0.0
    for image_path, truth_path, i in zip(images, truths, ids):
        image = io.imread(image_path)
        truth = np.array(Image.open(truth_path))  # palette PNG: PIL keeps the indices (imread: RGB)
        if truth.ndim == 3:
            sys.exit(f"compare_slic: {truth_path} is not a palette or grey PNG")
        k = max(1, round(image.shape[0] * image.shape[1] / a.pixels_per_superpixel))
        t0 = time.time()
        theirs = segmentation.slic(image, n_segments=k, compactness=a.compactness, start_label=0,
                                   enforce_connectivity=True)
        sk_s += time.time() - t0
        ours = io.imread(os.path.join(out, os.path.splitext(os.path.basename(image_path))[0] + ".png"))
        for name, sp in (("pixelgrad", ours), ("skimage", theirs)):
            rows[name].append((len(np.unique(sp)), boundary_recall(sp, truth, a.tolerance),
                               undersegmentation_error(sp, truth)))
    print(f"{len(ids)} images of {a.root}, {a.pixels_per_superpixel} pixels per superpixel, "
          f"compactness {a.compactness}, boundary tolerance {a.tolerance} px")
    print("| SLIC | superpixels / image | boundary recall | under-segmentation error | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds in (("pixelgrad", ours_s), ("skimage", sk_s)):
        r = rows[name]
        br = [x[1] for x in r if x[1] is not None]
        print(f"| {name} | {np.mean([x[0] for x in r]):.1f} | {np.mean(br):.4f} | "
              f"{np.mean([x[2] for x in r]):.4f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
