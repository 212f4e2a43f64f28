"""Turn CtpPixelRun's report and outputs into tests/reference/ctp_golden/pixel.json.

For each file: whether CTP's DicomFilter passed it, the signature CTP's
DicomPixelAnonymizer matched (whitespace folded), CTP's status, and the
SHA-256 of the output's pixel data as little-endian bytes (CTP keeps a
big-endian file big endian; the engine under test writes the same
transfer syntax, so both are compared in one byte order).

Usage: python ctp_pixel_dump.py OUT_DIR REPORT.tsv > pixel.json
"""
import hashlib
import json
import sys
from pathlib import Path

import pydicom

BIG_ENDIAN = "1.2.840.10008.1.2.2"


def little_endian_pixels(ds):
    data = bytes(ds.PixelData)
    width = ds.BitsAllocated // 8
    if ds.file_meta.TransferSyntaxUID == BIG_ENDIAN and width > 1:
        data = b"".join(
            data[i : i + width][::-1] for i in range(0, len(data) - len(data) % width, width)
        )
    return data


def main():
    out, report = Path(sys.argv[1]), Path(sys.argv[2])
    files = {}
    for line in report.read_text().splitlines():
        rel, passed, signature, status = line.split("\t")
        entry = {
            "filter": {"true": True, "false": False}.get(passed),
            "signature": None if signature == "-" else signature,
            "status": status,
            "pixels": None,
            "burned_in_annotation": None,
        }
        if status.startswith("OK"):
            ds = pydicom.dcmread(out / rel)
            entry["pixels"] = hashlib.sha256(little_endian_pixels(ds)).hexdigest()
            entry["burned_in_annotation"] = ds.get("BurnedInAnnotation")
        files[rel] = entry
    json.dump({"files": files}, sys.stdout, indent=1, sort_keys=True)
    print()


main()
