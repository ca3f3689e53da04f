#!/usr/bin/env python3
"""Writes the tiny PNG files that tests/test_data.cpp decodes, with Python's standard library
only (zlib for DEFLATE and CRC-32), so the PNG decoder is checked against an independent
encoder.

    python3 tools/golden/make_test_images.py     # writes tests/data/images/*.png

Every image is 5 rows x 7 columns; pixel values follow the formulas below, which the C++ test
repeats. JPEG test images are written by the test itself at run time (whet's write_jpeg),
since the standard library has no JPEG encoder.
"""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data",
                   "images")
H, W = 5, 7


def gray8(y, x):
    return (y * 50 + x * 13 + 7) % 256


def gray16(y, x):
    return (y * 13107 + x * 9000 + 123) % 65536


def rgb8(y, x):
    return ((y * 40 + x * 30) % 256, 255 - x * 35, (x * y * 17 + 5) % 256)


def rgb16(y, x, c):
    return (y * 7000 + x * 3000 + c * 11111 + 77) % 65536


def alpha8(y, x):
    return (x * 40 + y) % 256


def gray4(y, x):
    return (x + 3 * y) % 16


PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)]


def palette_index(y, x):
    return (x + 2 * y) % 4


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(depth, color_type, rows, extra=b""):
    """rows: the raw bytes of each scanline (without the filter byte)."""
    ihdr = struct.pack(">IIBBBBB", W, H, depth, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def pack_bits(values, bits):
    """Packs sub-byte samples most significant first, as PNG does."""
    out, acc, n = bytearray(), 0, 0
    for v in values:
        acc = acc << bits | v
        n += bits
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {}
    files["gray8.png"] = png(8, 0, [bytes(gray8(y, x) for x in range(W)) for y in range(H)])
    files["gray16.png"] = png(16, 0, [b"".join(struct.pack(">H", gray16(y, x)) for x in range(W))
                                      for y in range(H)])
    files["gray4.png"] = png(4, 0, [pack_bits([gray4(y, x) for x in range(W)], 4)
                                    for y in range(H)])
    files["gray_alpha8.png"] = png(8, 4, [bytes(v for x in range(W)
                                                for v in (gray8(y, x), alpha8(y, x)))
                                          for y in range(H)])
    files["rgb8.png"] = png(8, 2, [bytes(v for x in range(W) for v in rgb8(y, x))
                                   for y in range(H)])
    files["rgb16.png"] = png(16, 2, [b"".join(struct.pack(">H", rgb16(y, x, c))
                                              for x in range(W) for c in range(3))
                                     for y in range(H)])
    files["rgba8.png"] = png(8, 6, [bytes(v for x in range(W)
                                          for v in rgb8(y, x) + (alpha8(y, x),))
                                    for y in range(H)])
    plte = chunk(b"PLTE", bytes(v for rgb in PALETTE for v in rgb))
    trns = chunk(b"tRNS", bytes([255, 0]))  # entry 1 fully transparent: alpha, then dropped
    files["palette2.png"] = png(2, 3, [pack_bits([palette_index(y, x) for x in range(W)], 2)
                                       for y in range(H)], plte + trns)

    # Broken files: cut in the middle of the image data, a damaged IDAT checksum, and text.
    good = files["rgb8.png"]
    files["truncated.png"] = good[:len(good) - 30]
    idat = good.index(b"IDAT")
    length = struct.unpack(">I", good[idat - 4:idat])[0]
    crc_at = idat + 4 + length
    files["bad_crc.png"] = good[:crc_at] + bytes(b ^ 0xFF for b in good[crc_at:crc_at + 4]) + \
        good[crc_at + 4:]
    files["not_an_image.png"] = b"this is not a PNG file\n"

    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"wrote {name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
