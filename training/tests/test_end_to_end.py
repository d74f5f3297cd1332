import json
import os
import shutil
import subprocess

import onnx
import pytest

from protrude_train import export, kits, train


def test_tiny_training_exports_bundle(kits_dir, tmp_path):
    run_dir = tmp_path / "run"
    bundle_dir = tmp_path / "bundle"
    status = train.main(["--preset", "tiny", "--out", str(run_dir), "--seed", "0", "--kits-dir", str(kits_dir),
                         "--export-dir", str(bundle_dir), "--export-patch-size", "32", "--no-validation"])
    assert status == 0

    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["inference"]["patch_size"] == [32, 32, 32]
    assert manifest["provenance"]["preset"] == "tiny"
    total_bytes = 0
    for name, spec in export.MODEL_SPECS.items():
        entry = manifest["models"][name]
        assert entry["file"] == spec["file"]
        assert entry["inputs"] == [{"name": spec["input"], "channels": spec["input_channels"]}]
        assert entry["outputs"][0]["name"] == spec["output"]
        assert entry["outputs"][0]["channels"] == spec["output_channels"]
        model = onnx.load(str(bundle_dir / spec["file"]))
        dims = [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]
        assert dims == [1, spec["output_channels"], 32, 32, 32]
        total_bytes += (bundle_dir / spec["file"]).stat().st_size
    assert total_bytes <= export.MAX_BUNDLE_BYTES

    # Resuming a finished run skips every stage and exports again.
    assert train.main(["--preset", "tiny", "--out", str(run_dir), "--seed", "0", "--export-patch-size", "32",
                       "--no-validation"]) == 0

    # The Go side loads the bundle with ONNX Runtime and checks names and shapes.
    if shutil.which("go") is None:
        pytest.skip("go is not on PATH; skipped `go run ./app check-bundle`")
    if not os.environ.get("PROTRUDE_ORT_LIB"):
        pytest.skip("PROTRUDE_ORT_LIB is unset; skipped `go run ./app check-bundle` (make test sets it)")
    result = subprocess.run(["go", "run", "./app", "check-bundle", "--models", str(bundle_dir)], cwd=kits.REPO_ROOT,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"check-bundle failed:\n{result.stdout}\n{result.stderr}"
    assert "OK" in result.stdout
