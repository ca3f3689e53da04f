"""Zip archives for the zip reader's edge cases (Python's standard library only):
tests/data/pth/empty_entry.zip holds a zero-length DEFLATE entry beside a stored one.

    python3 tools/golden/make_zip_fixtures.py
"""
import pathlib
import zipfile

out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data" / "pth" / "empty_entry.zip"
with zipfile.ZipFile(out, "w") as z:
    z.writestr(zipfile.ZipInfo("archive/empty.bin"), b"", compress_type=zipfile.ZIP_DEFLATED)
    z.writestr(zipfile.ZipInfo("archive/data.bin"), b"abc", compress_type=zipfile.ZIP_STORED)
print(out, out.stat().st_size, "bytes")
