"""Run the RSNA DICOM Anonymizer's own engine headless over a directory tree.

Used by the differential tests: it drives `AnonymizerController.anonymize_file`
and `AnonymizerModel` from the `rsna-anonymizer` wheel exactly as the GUI's
import does, one file after another in sorted relative-path order, with every
storage class accepted, and prints one JSON object mapping each input file
(relative path) to its outcome:

    {"status": "stored" | "quarantined" | "skipped" | "error", "reason": ..., "message": ...}

Anonymized files land in OUTPUT/images/<patient>/<study>/<series>/<sop>.dcm.
Nothing here is the reference's code; it only calls it.
"""

import argparse
import json
import logging
import os
import sys
import types
from pathlib import Path

from anonymizer.controller.anonymizer import AnonymizerController
from anonymizer.model.anonymizer import AnonymizerModel


class EveryStorageClass:
    def __contains__(self, _):
        return True


class HeadlessProject:
    PRIVATE_DIR = "private"
    QUARANTINE_DIR = "quarantine"

    def __init__(self, storage_dir: Path, site_id: str, uid_root: str, project_name: str, script: Path):
        self.storage_dir = storage_dir
        self.site_id = site_id
        self.uid_root = uid_root
        self.project_name = project_name
        self.anonymizer_script_path = script
        self.storage_classes = EveryStorageClass()
        self.logging_levels = types.SimpleNamespace(store_dicom_source=False)

    def private_dir(self) -> Path:
        return self.storage_dir / self.PRIVATE_DIR

    def images_dir(self) -> Path:
        return self.storage_dir / "images"

    def get_db_url(self) -> str:
        return f"sqlite:///{self.private_dir() / 'anonymizer.db'}"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--input", required=True, type=Path)
    p.add_argument("--output", required=True, type=Path)
    p.add_argument("--script", required=True, type=Path)
    p.add_argument("--site-id", required=True)
    p.add_argument("--uid-root", required=True)
    p.add_argument("--project-name", required=True)
    args = p.parse_args()
    logging.disable(logging.CRITICAL)

    project = HeadlessProject(args.output, args.site_id, args.uid_root, args.project_name, args.script)
    project.private_dir().mkdir(parents=True, exist_ok=True)
    controller = object.__new__(AnonymizerController)
    controller._active = False
    controller.project_model = project
    controller.model = AnonymizerModel(args.site_id, args.uid_root, args.script, project.get_db_url())
    controller._model_change_flag = False

    reasons = {}
    current = {}
    move = controller._move_file_to_quarantine
    write = controller._write_dataset_to_quarantine

    def record_move(file, quarantine):
        reasons[current["rel"]] = quarantine.value
        return move(file, quarantine)

    def record_write(e, ds, quarantine):
        reasons[current["rel"]] = quarantine.value
        return write(e, ds, quarantine)

    controller._move_file_to_quarantine = record_move
    controller._write_dataset_to_quarantine = record_write

    files = []
    for root, _, names in os.walk(args.input):
        for name in names:
            path = Path(root) / name
            files.append((path.relative_to(args.input).as_posix(), path))
    files.sort(key=lambda f: f[0].encode("utf-8"))

    outcomes = {}
    for rel, path in files:
        current["rel"] = rel
        message, _ = controller.anonymize_file(path)
        if rel in reasons:
            outcomes[rel] = {"status": "quarantined", "reason": reasons[rel], "message": message}
        elif message is None:
            outcomes[rel] = {"status": "stored"}
        elif "already stored" in message:
            outcomes[rel] = {"status": "skipped", "message": message}
        else:
            outcomes[rel] = {"status": "error", "message": message}
    json.dump(outcomes, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
