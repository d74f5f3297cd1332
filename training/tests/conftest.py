import pathlib

import pytest

from protrude_train import kits


@pytest.fixture(scope="session")
def kits_dir() -> pathlib.Path:
    """The shared KiTS19 mask folder; tests that need it skip when it is absent."""
    if not kits.case_ids_in(kits.DEFAULT_KITS_DIR):
        pytest.skip(f"KiTS19 masks not found in {kits.DEFAULT_KITS_DIR} (a fresh clone has no ../shared)")
    return kits.DEFAULT_KITS_DIR


@pytest.fixture(scope="session")
def small_library(kits_dir, tmp_path_factory):
    """Shapes from the first six KiTS19 cases, cached in a temporary folder."""
    ids = kits.case_ids_in(kits_dir)[:6]
    cache = kits.DEFAULT_CACHE_DIR
    if not all((cache / "kits19_1mm" / f"{i}.npz").exists() for i in ids):
        cache = tmp_path_factory.mktemp("kits_cache")
    return kits.load_shape_library(ids, kits_dir, cache)
