"""The fixed case split in training/splits.json.

The split is made once from the case lists in ../shared/data and then committed, so
every run, evaluation and report uses the same training, validation and test cases:

    PYTHONPATH=training /usr/bin/python3 -m protrude_train.splits --write

Validation chooses thresholds and checkpoints. Test is used only for reported numbers.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np

from . import kits

FRACTIONS = {"train": 0.70, "validation": 0.15, "test": 0.15}


def make_splits(case_ids: list[str], seed: int = 0) -> dict[str, list[str]]:
    """Split sorted case ids into train, validation and test by a seeded permutation."""
    ids = sorted(case_ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_validation = int(round(len(ids) * FRACTIONS["validation"]))
    n_test = int(round(len(ids) * FRACTIONS["test"]))
    validation = sorted(ids[i] for i in order[:n_validation])
    test = sorted(ids[i] for i in order[n_validation:n_validation + n_test])
    train = sorted(ids[i] for i in order[n_validation + n_test:])
    return {"train": train, "validation": validation, "test": test}


def main() -> None:
    parser = argparse.ArgumentParser(description="Write training/splits.json from the KiTS mask folders.")
    parser.add_argument("--kits-dir", type=pathlib.Path, default=kits.DEFAULT_KITS_DIR)
    parser.add_argument("--kits23-dir", type=pathlib.Path, default=kits.DEFAULT_KITS23_DIR)
    parser.add_argument("--write", action="store_true", help=f"write {kits.SPLITS_FILE}")
    args = parser.parse_args()
    splits = {
        "about": "Fixed case split; see protrude_train/splits.py. Test cases are used only for reported numbers.",
        "kits19": make_splits(kits.case_ids_in(args.kits_dir)),
        "kits23": make_splits(kits.case_ids_in(args.kits23_dir)),
    }
    text = json.dumps(splits, indent=1) + "\n"
    if args.write:
        kits.SPLITS_FILE.write_text(text)
        print(f"wrote {kits.SPLITS_FILE}")
    else:
        print(text)


if __name__ == "__main__":
    main()
