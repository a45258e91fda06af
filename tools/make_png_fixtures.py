"""Writes tests/data/palette_{8,4,2}bit.png: palette PNGs whose rows cycle through all five PNG
filter types (None, Sub, Up, Average, Paeth), at 8, 4 and 2 bits per index, with a palette whose
first five colours repeat (like Cityscapes'), to test seg/data/image_io's own index decoder; and
tests/data/grey_{4,2,1}bit.png: greyscale label maps of 4, 2 and 1 bits per value (a binary
mask), whose values must be read as stored, not scaled to 0..255.
Index of pixel (x, y) = (3 x + 5 y + x y) % min(2^bits, 21). Pure Python (zlib), no torch.
Run: python3 tools/make_png_fixtures.py
"""
import os
import struct
import zlib

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
W, H = 13, 11


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def filtered_rows(rows, bpp=1):
    out, prev = b"", bytes(len(rows[0]))
    for y, row in enumerate(rows):
        f = y % 5
        line = bytearray()
        for i, v in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            line.append((v - pred) & 0xFF)
        out += bytes([f]) + bytes(line)
        prev = row
    return out


def packed_rows(bits, modulo):
    rows = []
    for y in range(H):
        idx = [(3 * x + 5 * y + x * y) % modulo for x in range(W)]
        packed, per_byte = bytearray(), 8 // bits
        for x0 in range(0, W, per_byte):
            byte = 0
            for k in range(per_byte):
                v = idx[x0 + k] if x0 + k < W else 0
                byte |= v << (8 - bits * (k + 1))
            packed.append(byte)
        rows.append(bytes(packed))
    return rows


def main():
    for bits in (4, 2, 1):
        header = struct.pack(">IIBBBBB", W, H, bits, 0, 0, 0, 0)
        png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
        png += chunk(b"IDAT", zlib.compress(filtered_rows(packed_rows(bits, 2 ** bits))))
        png += chunk(b"IEND", b"")
        with open(os.path.join(DATA, f"grey_{bits}bit.png"), "wb") as f:
            f.write(png)
    for bits in (8, 4, 2):
        modulo = min(2 ** bits, 21)
        rows = packed_rows(bits, modulo)
        palette = b"".join(bytes([0, 0, 0]) if i < 5 else bytes([i * 10 % 256, 100, 200])
                           for i in range(modulo))
        png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, bits, 3, 0, 0, 0))
        png += chunk(b"PLTE", palette) + chunk(b"IDAT", zlib.compress(filtered_rows(rows)))
        png += chunk(b"IEND", b"")
        with open(os.path.join(DATA, f"palette_{bits}bit.png"), "wb") as f:
            f.write(png)


if __name__ == "__main__":
    main()
