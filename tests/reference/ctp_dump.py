"""Dump the DICOM files of a tree as comparable JSON, for the CTP tests.

    python ctp_dump.py TREE STATUS_TSV > out.json

STATUS_TSV lists `<rel> TAB <status> TAB <message>` per input file (as
CtpRun.java prints it, or as tests/ctp_reference_outputs.rs writes it from
our store). For every file written, every element at every depth is listed
by path as [VR, value], values normalised the same way for both engines
(text without padding, numbers as pydicom reads them, bytes as hex). Group
lengths are left out. Needs pydicom (the RSNA venv of fetch_reference.sh
has it).
"""

import json
import os
import sys

import pydicom


def value(elem):
    v = elem.value
    if elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") or isinstance(v, bytes):
        data = v if isinstance(v, bytes) else bytes(v or b"")
        data = data.rstrip(b"\0 ")
        return data.hex() if len(data) <= 64 else f"{len(data)} bytes"
    if isinstance(v, (list, pydicom.multival.MultiValue)):
        return [str(x).rstrip("\0 ") for x in v]
    if v is None:
        return ""
    return str(v).rstrip("\0 ")


def walk(ds, prefix, out):
    for elem in ds:
        if elem.tag.element == 0:
            continue
        path = f"{prefix}({elem.tag.group:04X},{elem.tag.element:04X})"
        if elem.VR == "SQ":
            out[path] = ["SQ", len(elem.value)]
            for i, item in enumerate(elem.value):
                walk(item, f"{path}[{i}]/", out)
        else:
            vr = elem.VR if elem.VR != "UN" else "UN"
            out[path] = [vr, value(elem)]


def main(tree, status_tsv):
    result = {}
    for line in open(status_tsv, encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            continue
        rel, status = parts[0], parts[1]
        entry = {"status": status}
        path = os.path.join(tree, rel)
        if status == "OK" and os.path.exists(path):
            ds = pydicom.dcmread(path, force=True)
            elements = {}
            walk(ds, "", elements)
            entry["elements"] = elements
        result[rel] = entry
    json.dump(result, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    main(sys.argv[1], sys.argv[2])
