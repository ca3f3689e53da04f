#!/usr/bin/env python3
"""Round trip between whet's safetensors reader/writer and the reference Python package.

    python3 tools/golden/check_safetensors_roundtrip.py DIR

(a) Writes DIR/python/<case>.safetensors with the reference writer (safetensors.serialize,
    and safetensors.numpy.save_file for numpy.safetensors), for whet to read.
(b) If DIR/whet/ exists, checks every DIR/whet/<case>.safetensors that whet wrote: the
    reference reader accepts it, its values are the recipe's, and its bytes equal what the
    reference writer produces for the same tensors (header layout included). Where a case has
    more than one metadata key the reference writes them in HashMap order, which changes from
    run to run, so there the header is compared as parsed JSON instead, plus its length.

The cases are a recipe of formulas that tests/test_safetensors.cpp mirrors; change both.
Needs `pip install safetensors numpy`. Exit status: 0 all good, 1 a check failed, 77 the
packages are missing (the C++ test then reports itself skipped, unless CI asked for it).
"""
import ctypes
import json
import os
import sys

try:
    import numpy as np
    import safetensors
    import safetensors.numpy
except ImportError as e:  # reported by the C++ test as the reason for skipping
    print(f"SKIP: python packages missing ({e}); pip install safetensors numpy")
    sys.exit(77)


def values(n, formula):
    return [formula(i) for i in range(n)]


# name -> (numpy dtype name, shape, values); bf16 values are exact in bfloat16.
ALL_DTYPES = {
    "f32": ("float32", (2, 3), values(6, lambda i: (i - 2) * 0.5)),
    "f64": ("float64", (3,), values(3, lambda i: i / 3.0)),
    "f16": ("float16", (2, 2), values(4, lambda i: (i - 3) * 0.25)),
    "bf16": ("bfloat16", (5,), values(5, lambda i: (i - 1) * 1.5)),
    "i64": ("int64", (2,), values(2, lambda i: i * 1000000000007 - 5)),
    "i32": ("int32", (3,), values(3, lambda i: i * 7 - 11)),
    "u8": ("uint8", (3,), values(3, lambda i: (i * 37 + 200) % 256)),
    "bool": ("bool", (5,), values(5, lambda i: i % 3 == 0)),
    "scalar": ("float32", (), [3.5]),
    "empty": ("float32", (0, 3), []),
}
ODD_NAMES = ['a"q', "back\\slash", "\u00e9-\u00fc", "tab\tnl\n", "ctl\x01", "layer1.0.conv1.weight"]

# case -> (tensors, metadata)
CASES = {
    "all_dtypes": (ALL_DTYPES, {"format": "pt"}),
    "names": ({n: ("float32", (1,), [float(i)]) for i, n in enumerate(ODD_NAMES)},
              {'k"ey': "v\\al\nue \u00e9"}),
    "multi_meta": ({"w": ("float32", (2,), [1.0, -2.0])}, {"a": "1", "b": "2", "c": "3"}),
    "empty": ({}, None),
}


def raw_bytes(dtype, shape, vals):
    if dtype == "bfloat16":  # numpy has no bfloat16: the top half of each float32
        bits = np.array(vals, dtype=np.float32).reshape(shape).view(np.uint32) >> 16
        return bits.astype("<u2").tobytes()
    return np.array(vals, dtype=dtype).reshape(shape).astype(np.dtype(dtype).newbyteorder("<")).tobytes()


def serialize(tensors, metadata):
    """The reference writer's bytes for {name: (dtype, shape, values)}, across API versions."""
    raw = {k: (dt, list(shape), raw_bytes(dt, shape, v)) for k, (dt, shape, v) in tensors.items()}
    if hasattr(safetensors, "TensorSpec"):  # 0.8+: specs point at caller-owned memory
        keep, specs = [], {}
        for k, (dt, shape, data) in raw.items():
            buf = ctypes.create_string_buffer(data, max(len(data), 1))
            keep.append(buf)
            specs[k] = safetensors.TensorSpec(dtype=dt, shape=shape,
                                              data_ptr=ctypes.addressof(buf), data_len=len(data))
        return bytes(safetensors.serialize(specs, metadata=metadata))
    specs = {k: {"dtype": dt, "shape": shape, "data": data} for k, (dt, shape, data) in raw.items()}
    return bytes(safetensors.serialize(specs, metadata=metadata))


def split(blob):
    n = int.from_bytes(blob[:8], "little")
    return n, blob[8:8 + n], blob[8 + n:]


def write_python_files(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for case, (tensors, metadata) in CASES.items():
        with open(os.path.join(out_dir, case + ".safetensors"), "wb") as f:
            f.write(serialize(tensors, metadata))
    # The public numpy API too (it cannot express bfloat16).
    arrays = {k: np.array(v, dtype=dt).reshape(shape)
              for k, (dt, shape, v) in ALL_DTYPES.items() if dt != "bfloat16"}
    safetensors.numpy.save_file(arrays, os.path.join(out_dir, "numpy.safetensors"),
                                metadata={"format": "np"})


def check_whet_file(path, tensors, metadata):
    errors = []
    with open(path, "rb") as f:
        ours = f.read()
    ref = serialize(tensors, metadata)
    # The reference reader must accept our file and find the recipe's bytes in it.
    try:
        loaded = dict(safetensors.deserialize(ours))
    except Exception as e:  # noqa: BLE001 - any reader error is the finding
        return [f"{path}: the reference reader rejects it: {e}"]
    if set(loaded) != set(tensors):
        errors.append(f"{path}: tensor names {sorted(loaded)} != {sorted(tensors)}")
    for k, (dt, shape, v) in tensors.items():
        if k not in loaded:
            continue
        got = loaded[k]
        want_dtype = {"float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16",
                      "int64": "I64", "int32": "I32", "uint8": "U8", "bool": "BOOL"}[dt]
        if got["dtype"] != want_dtype or list(got["shape"]) != list(shape):
            errors.append(f"{path}: {k!r} is {got['dtype']}{list(got['shape'])}, "
                          f"want {want_dtype}{list(shape)}")
        elif bytes(got["data"]) != raw_bytes(dt, shape, v):
            errors.append(f"{path}: {k!r} values differ")
    if metadata is not None and len(metadata) > 1:
        n_ours, h_ours, d_ours = split(ours)
        n_ref, h_ref, d_ref = split(ref)
        if n_ours != n_ref or json.loads(h_ours) != json.loads(h_ref) or d_ours != d_ref:
            errors.append(f"{path}: header or data differ from the reference writer's\n"
                          f"  ours: {h_ours!r}\n  ref:  {h_ref!r}")
    elif ours != ref:
        errors.append(f"{path}: bytes differ from the reference writer's\n"
                      f"  ours: {split(ours)[1]!r}\n  ref:  {split(ref)[1]!r}")
    return errors


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    write_python_files(os.path.join(root, "python"))
    print(f"wrote reference files to {os.path.join(root, 'python')} "
          f"(safetensors {safetensors.__version__}, numpy {np.__version__})")
    whet_dir = os.path.join(root, "whet")
    if not os.path.isdir(whet_dir):
        print(f"no {whet_dir}: nothing of whet's to check")
        return 0
    errors = []
    for case, (tensors, metadata) in CASES.items():
        path = os.path.join(whet_dir, case + ".safetensors")
        if not os.path.exists(path):
            errors.append(f"{path}: missing")
            continue
        errors += check_whet_file(path, tensors, metadata)
    for e in errors:
        print("FAIL:", e)
    print(f"checked {len(CASES)} whet files: {'ok' if not errors else f'{len(errors)} problems'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
