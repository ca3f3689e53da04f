#!/usr/bin/env python3
"""Writes the PyTorch .pth fixtures that tests/test_pth.cpp and tests/test_weights.cpp read.

    python3 tools/golden/make_pth_fixtures.py        # writes tests/data/pth/*

Real files come from torch.save itself (and one from torch.jit.save); other zip writers' forms
(DEFLATE, zip64, big-endian) are those archives rewritten by Python's zipfile; the malformed
ones are torch's bytes damaged on purpose (truncated, a flipped data byte, a moved header
offset) or small archives whose data.pkl is written by hand, byte by byte. Nothing dangerous
is ever pickled: the forbidden-global file spells out the opcodes GLOBAL 'os system' ... by
hand, and no reader here runs it. Reruns give the same bytes, except legacy.pth (the old
format keys storages by object address).

Sidecars: expected.json lists each readable file's tensors in order (name, dtype, shape);
expected.safetensors holds their values as contiguous tensors named "<file>/<tensor>", plus
the tiny model's input and eval-mode output ("tiny.input" NCHW, "tiny.output").
"""
import collections
import io
import json
import os
import struct
import warnings
import zipfile

import torch
import torch.nn as nn
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "pth")


class Tiny(nn.Module):
    """conv + bn + linear, as tests/test_weights.cpp builds it in whet."""

    def __init__(self, classes=5):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def path(name):
    return os.path.join(OUT, name)


def torch_save(obj, name, **kw):
    """torch.save to tests/data/pth/<name> (records under "<stem>/", as torch names them)."""
    torch.save(obj, path(name), **kw)
    with open(path(name), "rb") as f:
        data = f.read()
    print(f"{path(name)}: {len(data)} bytes")
    return data


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    print(f"{path(name)}: {len(data)} bytes")


def entry(name):
    """A zip entry with a fixed timestamp, so reruns write the same bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def rezip(data, name, compression=zipfile.ZIP_STORED, drop=(), transform=None):
    """The archive `data` rewritten by Python's zipfile (entries in the same order)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            body = src.read(info)
            if transform:
                body = transform(info.filename, body)
            dst.writestr(entry(info.filename), body, compress_type=compression)
    write(name, buf.getvalue())


def handmade_archive(name, pickle_bytes, storages=()):
    """A torch.save-shaped archive whose data.pkl is the given bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(entry("archive/data.pkl"), pickle_bytes)
        z.writestr(entry("archive/byteorder"), "little")
        for key, body in storages:
            z.writestr(entry(f"archive/data/{key}"), body)
        z.writestr(entry("archive/version"), "3\n")
    write(name, buf.getvalue())


def handmade_tensor_pickle(numel, offset, size, stride):
    """Opcodes for {'w': _rebuild_tensor_v2(FloatStorage '0' of numel, offset, size, stride,
    False, OrderedDict())}, spelled out as torch.save writes them."""
    def s(text):
        return b"X" + struct.pack("<I", len(text)) + text.encode()
    def i(v):
        return b"J" + struct.pack("<i", v)
    def tup(xs):
        return b"(" + b"".join(i(x) for x in xs) + b"t"
    return (b"\x80\x02}" + s("w") + b"ctorch._utils\n_rebuild_tensor_v2\n("
            + b"(" + s("storage") + b"ctorch\nFloatStorage\n" + s("0") + s("cpu") + i(numel)
            + b"tQ" + i(offset) + tup(size) + tup(stride)
            + b"\x89ccollections\nOrderedDict\n)RtRs.")


def central_directory(data):
    """(offset of each central header, its file name) from the end record."""
    end = data.rindex(b"PK\x05\x06")
    count, _, cd_offset = struct.unpack("<HII", data[end + 10:end + 20])
    out, pos = [], cd_offset
    for _ in range(count):
        nlen, xlen, clen = struct.unpack("<HHH", data[pos + 28:pos + 34])
        out.append((pos, data[pos + 46:pos + 46 + nlen].decode()))
        pos += 46 + nlen + xlen + clen
    return out


def entry_data_offset(data, entry):
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        if info.filename == entry:
            h = info.header_offset
            nlen, xlen = struct.unpack("<HH", data[h + 26:h + 30])
            return h + 30 + nlen + xlen
    raise KeyError(entry)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    expected = collections.OrderedDict()
    values = {}

    def record(name, sd):
        expected[name] = [{"name": k, "dtype": str(v.dtype).replace("torch.", ""),
                           "shape": list(v.shape)} for k, v in sd.items()]
        for k, v in sd.items():
            values[f"{name}/{k}"] = v.detach().contiguous().clone()

    # The tiny model, with statistics that are not the defaults so every buffer is checked.
    model = Tiny()
    with torch.no_grad():
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.5, 0.5)
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.num_batches_tracked.fill_(7)
    model.eval()
    x = torch.randn(2, 3, 5, 5)
    values["tiny.input"] = x
    values["tiny.output"] = model(x).detach()
    sd = model.state_dict()
    tiny = torch_save(sd, "tiny.pth")
    record("tiny.pth", sd)

    # Every dtype torch.save writes that whet has, a 0-d and an empty tensor, a Parameter, and
    # two views at different offsets of one storage.
    base = torch.arange(10, dtype=torch.float32)
    dtypes = collections.OrderedDict([
        ("f32", torch.randn(2, 3)),
        ("f64", torch.randn(3, dtype=torch.float64)),
        ("f16", torch.randn(2, 2).half()),
        ("bf16", torch.randn(4).bfloat16()),
        ("i64", torch.arange(5) - 2),
        ("i32", torch.tensor([-7, 0, 2**31 - 1], dtype=torch.int32)),
        ("u8", torch.tensor([0, 1, 255], dtype=torch.uint8)),
        ("bool", torch.tensor([True, False, True])),
        ("scalar", torch.tensor(3.5)),
        ("empty", torch.zeros(0, 3)),
        ("param", nn.Parameter(torch.randn(3))),
        ("shared_a", base[0:2]),
        ("shared_b", base[2:5]),
    ])
    torch_save(dtypes, "dtypes.pth")
    record("dtypes.pth", dtypes)
    torch_save(dtypes, "protocol4.pth", pickle_protocol=4)
    record("protocol4.pth", dtypes)

    # Strided views are saved as such (the whole storage plus size, stride, offset).
    noncontig = collections.OrderedDict([
        ("transposed", torch.randn(3, 4).t()),
        ("permuted", torch.randn(2, 3, 4, 5).permute(0, 2, 3, 1)),
        ("sliced", torch.randn(4, 6)[:, 1:4]),
        ("expanded", torch.randn(3, 1).expand(3, 4)),
    ])
    assert not any(v.is_contiguous() for v in noncontig.values())
    torch_save(noncontig, "noncontig.pth")
    record("noncontig.pth", noncontig)

    # Training checkpoints that wrap the state dict, with plain data beside it.
    wrapped = {"epoch": 3, "arch": "tiny", "best_acc": 0.75, "flag": True, "nothing": None,
               "state_dict": sd,
               "optimizer": {"state": {0: {"step": 1}}, "param_groups": [{"lr": 0.1,
                                                                          "params": [0, 1]}]}}
    torch_save(wrapped, "wrapped.pth")
    record("wrapped.pth", sd)
    torch_save({"model": sd, "epoch": 1}, "model_wrapped.pth")
    record("model_wrapped.pth", sd)

    # The same archive as other zip writers make it: DEFLATE, and zip64 records throughout.
    rezip(tiny, "deflate.pth", zipfile.ZIP_DEFLATED)
    record("deflate.pth", sd)
    limit = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 1  # every size and offset "needs" zip64
    try:
        rezip(tiny, "zip64.pth")
    finally:
        zipfile.ZIP64_LIMIT = limit
    record("zip64.pth", sd)

    # A big-endian machine's file: every storage is float32, so each 4-byte word is swapped.
    be = collections.OrderedDict([("w", torch.randn(2, 3)), ("v", torch.arange(4.0))])
    def to_big(name, body):
        if name.endswith("/byteorder"):
            return b"big"
        if "/data/" in name:
            return b"".join(body[i:i + 4][::-1] for i in range(0, len(body), 4))
        return body
    rezip(torch_save(be, "big_endian.pth"), "big_endian.pth", transform=to_big)
    record("big_endian.pth", be)

    # Files that are not what whet reads.
    torch_save(sd, "legacy.pth", _use_new_zipfile_serialization=False)
    torch_save(model, "whole_model.pth")
    torch_save({"net": sd, "epoch": 1}, "no_state_dict.pth")
    torch_save([sd["fc.bias"]], "list.pth")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated: users still have such files
        torch.jit.save(torch.jit.script(nn.Linear(2, 3)), path("torchscript.pt"))
    print(f"{path('torchscript.pt')}: {os.path.getsize(path('torchscript.pt'))} bytes")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(entry("notes/readme.txt"), "an ordinary zip file")
    write("plain.zip", buf.getvalue())

    # Damaged files.
    write("truncated.pth", tiny[:len(tiny) // 2])
    bad = bytearray(tiny)
    bad[entry_data_offset(tiny, "tiny/data/0")] ^= 0xFF  # first byte of conv.weight
    write("bad_crc.pth", bytes(bad))
    bad = bytearray(tiny)
    pos, name = central_directory(tiny)[0]
    assert name.endswith("data.pkl")
    old = struct.unpack("<I", bad[pos + 42:pos + 46])[0]
    bad[pos + 42:pos + 46] = struct.pack("<I", old + 7)
    write("bad_offset.pth", bytes(bad))
    rezip(tiny, "missing_storage.pth", drop=("tiny/data/0",))

    # Hand-written pickles: a forbidden global (never pickled from a real object), and an
    # opcode a state dict never needs (EMPTY_SET).
    handmade_archive("forbidden_global.pth",
                     b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.")
    handmade_archive("bad_opcode.pth", b"\x80\x02\x8f.")
    # Tensor records that disagree with their storage of 4 floats (16 bytes).
    four = struct.pack("<4f", 1, 2, 3, 4)
    handmade_archive("handmade_ok.pth", handmade_tensor_pickle(4, 0, (2, 2), (2, 1)),
                     [("0", four)])
    handmade_archive("out_of_bounds.pth", handmade_tensor_pickle(4, 1, (2, 2), (2, 1)),
                     [("0", four)])
    handmade_archive("storage_size.pth", handmade_tensor_pickle(100, 0, (2, 2), (2, 1)),
                     [("0", four)])

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    save_file(values, path("expected.safetensors"), metadata={"torch": torch.__version__})
    os.chmod(path("expected.safetensors"), 0o644)
    print(f"{path('expected.safetensors')}: {len(values)} tensors")


if __name__ == "__main__":
    main()
