"""Reference dump for the image bicubic resize: tests/data/bicubic.safetensors, read by
tests/seg/augment_test.cpp.

RIPU resizes its images with torchvision's F.resize on PIL images, i.e. PIL's antialiased bicubic
(a = -0.5; the kernel is stretched when shrinking). Inputs are random 8-bit RGB images; outputs
are what PIL 9 returns (8-bit, rounded after each separable pass). Run:
/usr/bin/python3 tools/dump_bicubic.py
"""
import numpy as np
from PIL import Image

from pgref import save

# name: (input (h, w), output (h, w)).
CASES = {
    "down": ((13, 17), (5, 6)),    # shrink by ~2.6-2.8: antialiased taps
    "up": ((5, 6), (11, 16)),      # enlarge
    "mixed": ((9, 7), (4, 12)),    # shrink H, enlarge W
}


def main():
    rng = np.random.default_rng(0)
    out = {}
    for name, ((h, w), (oh, ow)) in CASES.items():
        x = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        y = np.asarray(Image.fromarray(x).resize((ow, oh), Image.BICUBIC))
        out[f"{name}_x"] = x
        out[f"{name}_y"] = y
    save("bicubic.safetensors", out)


if __name__ == "__main__":
    main()
