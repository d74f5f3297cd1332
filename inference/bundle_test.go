package inference

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const chainBundleDir = "testdata/chain"

func TestLoadBundleDirValid(t *testing.T) {
	requireRuntime(t)
	b, err := LoadBundleDir(chainBundleDir)
	if err != nil {
		t.Fatalf("LoadBundleDir(%q): %v", chainBundleDir, err)
	}
	if b.Name != chainBundleDir {
		t.Errorf("Name = %q, want %q", b.Name, chainBundleDir)
	}
	if b.Manifest.BundleID != "test-chain-pointwise" {
		t.Errorf("BundleID = %q, want test-chain-pointwise", b.Manifest.BundleID)
	}
	if got := b.Manifest.Inference.PatchSize3(); got != [3]int{32, 32, 32} {
		t.Errorf("PatchSize3 = %v, want [32 32 32]", got)
	}
	if got := b.Manifest.Preprocessing.SpacingMMIsotropic(); got != 1 {
		t.Errorf("SpacingMMIsotropic = %g, want 1", got)
	}
	if got := b.Manifest.Models.Fusion.Inputs[0].Name; got != "image_and_lesion" {
		t.Errorf("fusion input name = %q, want image_and_lesion", got)
	}
	for name, m := range map[string]BundleModel{"base": b.Base, "protuberance": b.Protuberance, "fusion": b.Fusion} {
		want, err := os.ReadFile(filepath.Join(chainBundleDir, name+".onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if string(m.ONNX) != string(want) {
			t.Errorf("%s: ONNX has %d bytes, want the %d bytes of %s.onnx", name, len(m.ONNX), len(want), name)
		}
		if m.Spec.File != name+".onnx" {
			t.Errorf("%s: Spec.File = %q, want %s.onnx", name, m.Spec.File, name)
		}
	}
}

// An embedded bundle reaches LoadBundle as an fs.FS, with the bundle in a sub-folder.
func TestLoadBundleFromFS(t *testing.T) {
	requireRuntime(t)
	fsys := fstest.MapFS{}
	for _, name := range []string{"manifest.json", "base.onnx", "protuberance.onnx", "fusion.onnx"} {
		data, err := os.ReadFile(filepath.Join(chainBundleDir, name))
		if err != nil {
			t.Fatal(err)
		}
		fsys["models/default/"+name] = &fstest.MapFile{Data: data}
	}
	b, err := LoadBundle(fsys, "models/default")
	if err != nil {
		t.Fatalf("LoadBundle: %v", err)
	}
	if b.Name != "models/default" || len(b.Fusion.ONNX) == 0 {
		t.Errorf("bundle name %q with %d fusion bytes, want models/default with the model", b.Name, len(b.Fusion.ONNX))
	}

	if _, err := LoadBundle(fsys, "models/other"); err == nil || !strings.Contains(err.Error(), "manifest.json") {
		t.Errorf("LoadBundle of a missing folder: got %v, want an error naming manifest.json", err)
	}
}

// writeBundle copies the chain bundle to a temporary folder, lets edit change the
// decoded manifest, and replaces model files with files from testdata.
func writeBundle(t testing.TB, edit func(m map[string]any), replace map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"base.onnx", "protuberance.onnx", "fusion.onnx"} {
		source := filepath.Join(chainBundleDir, name)
		if r, ok := replace[name]; ok {
			source = filepath.Join("testdata", r)
		}
		data, err := os.ReadFile(source)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	raw, err := os.ReadFile(filepath.Join(chainBundleDir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	raw, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// object returns the JSON object at the dotted path in m.
func object(m map[string]any, path string) map[string]any {
	for _, key := range strings.Split(path, ".") {
		m = m[key].(map[string]any)
	}
	return m
}

// tensorSpec returns models.<model>.<kind>[0] of the manifest m.
func tensorSpec(m map[string]any, model, kind string) map[string]any {
	return object(m, "models."+model)[kind].([]any)[0].(map[string]any)
}

// bundleErrors returns the BundleErrors inside err, which LoadBundle joins.
func bundleErrors(err error) []*BundleError {
	var found []*BundleError
	var walk func(error)
	walk = func(e error) {
		var be *BundleError
		if errors.As(e, &be) && e == error(be) {
			found = append(found, be)
			return
		}
		if joined, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range joined.Unwrap() {
				walk(inner)
			}
		}
	}
	walk(err)
	return found
}

func TestLoadBundleRejectsContractViolations(t *testing.T) {
	requireRuntime(t)
	tests := []struct {
		name        string
		edit        func(m map[string]any)
		replace     map[string]string
		remove      string
		model       string
		field       string
		expected    string
		actual      string
		unsupported bool
	}{
		{
			name:  "format version 2",
			edit:  func(m map[string]any) { m["format_version"] = 2 },
			field: "format_version", expected: "1", actual: "2", unsupported: true,
		},
		{
			name:   "base model file missing",
			remove: "base.onnx",
			model:  "base", field: "models.base.file", expected: "an existing .onnx file", actual: `"base.onnx" is missing`,
		},
		{
			name:  "fusion file names another file",
			edit:  func(m map[string]any) { object(m, "models.fusion")["file"] = "fusion_v2.onnx" },
			model: "fusion", field: "models.fusion.file", expected: "an existing .onnx file", actual: `"fusion_v2.onnx" is missing`,
		},
		{
			name:  "model file outside the bundle",
			edit:  func(m map[string]any) { object(m, "models.base")["file"] = "../base.onnx" },
			model: "base", field: "models.base.file", expected: "a relative path inside the bundle", actual: `"../base.onnx"`,
		},
		{
			name:  "base input with 3 channels",
			edit:  func(m map[string]any) { tensorSpec(m, "base", "inputs")["channels"] = 3 },
			model: "base", field: "models.base.inputs[0].channels", expected: "1", actual: "3",
		},
		{
			name:  "base output with 1 channel",
			edit:  func(m map[string]any) { tensorSpec(m, "base", "outputs")["channels"] = 1 },
			model: "base", field: "models.base.outputs[0].channels", expected: "2", actual: "1",
		},
		{
			name:  "protuberance input with 2 channels",
			edit:  func(m map[string]any) { tensorSpec(m, "protuberance", "inputs")["channels"] = 2 },
			model: "protuberance", field: "models.protuberance.inputs[0].channels", expected: "1", actual: "2",
		},
		{
			name:  "protuberance output with 2 channels",
			edit:  func(m map[string]any) { tensorSpec(m, "protuberance", "outputs")["channels"] = 2 },
			model: "protuberance", field: "models.protuberance.outputs[0].channels", expected: "1", actual: "2",
		},
		{
			name:  "fusion input with 1 channel",
			edit:  func(m map[string]any) { tensorSpec(m, "fusion", "inputs")["channels"] = 1 },
			model: "fusion", field: "models.fusion.inputs[0].channels", expected: "2", actual: "1",
		},
		{
			name:  "fusion output with 2 channels",
			edit:  func(m map[string]any) { tensorSpec(m, "fusion", "outputs")["channels"] = 2 },
			model: "fusion", field: "models.fusion.outputs[0].channels", expected: "1", actual: "2",
		},
		{
			name:  "base channel names swapped",
			edit:  func(m map[string]any) { tensorSpec(m, "base", "outputs")["channel_names"] = []any{"tumor", "kidney"} },
			model: "base", field: "models.base.outputs[0].channel_names", expected: `["kidney" "tumor"]`, actual: `["tumor" "kidney"]`,
		},
		{
			name: "fusion with two inputs",
			edit: func(m map[string]any) {
				o := object(m, "models.fusion")
				o["inputs"] = append(o["inputs"].([]any), o["inputs"].([]any)[0])
			},
			model: "fusion", field: "models.fusion.inputs", expected: "1 input", actual: "2 inputs",
		},
		{
			name:  "empty input name",
			edit:  func(m map[string]any) { tensorSpec(m, "protuberance", "inputs")["name"] = "" },
			model: "protuberance", field: "models.protuberance.inputs[0].name", expected: "a tensor name", actual: `""`,
		},
		{
			name:  "patch 48 not a multiple of 32",
			edit:  func(m map[string]any) { object(m, "inference")["patch_size"] = []any{32, 48, 32} },
			field: "inference.patch_size[1]", expected: "a positive multiple of 32", actual: "48",
		},
		{
			name:  "patch 0",
			edit:  func(m map[string]any) { object(m, "inference")["patch_size"] = []any{32, 32, 0} },
			field: "inference.patch_size[2]", expected: "a positive multiple of 32", actual: "0",
		},
		{
			name:  "negative patch",
			edit:  func(m map[string]any) { object(m, "inference")["patch_size"] = []any{-32, 32, 32} },
			field: "inference.patch_size[0]", expected: "a positive multiple of 32", actual: "-32",
		},
		{
			name:  "patch with two dims",
			edit:  func(m map[string]any) { object(m, "inference")["patch_size"] = []any{32, 32} },
			field: "inference.patch_size", expected: "3 values ordered D, H, W", actual: "[32 32]",
		},
		{
			name:  "kidney threshold 0",
			edit:  func(m map[string]any) { object(m, "inference.thresholds")["kidney"] = 0 },
			field: "inference.thresholds.kidney", expected: "a probability in (0, 1)", actual: "0",
		},
		{
			name:  "tumor threshold 1",
			edit:  func(m map[string]any) { object(m, "inference.thresholds")["tumor"] = 1 },
			field: "inference.thresholds.tumor", expected: "a probability in (0, 1)", actual: "1",
		},
		{
			name:  "protrusion threshold 1.5",
			edit:  func(m map[string]any) { object(m, "inference.thresholds")["protrusion"] = 1.5 },
			field: "inference.thresholds.protrusion", expected: "a probability in (0, 1)", actual: "1.5",
		},
		{
			name:  "protrusion threshold missing",
			edit:  func(m map[string]any) { delete(object(m, "inference.thresholds"), "protrusion") },
			field: "inference.thresholds.protrusion", expected: "a probability in (0, 1)", actual: "0",
		},
		{
			name:  "spacing 0",
			edit:  func(m map[string]any) { object(m, "preprocessing")["spacing_mm"] = []any{0, 0, 0} },
			field: "preprocessing.spacing_mm[0]", expected: "a finite spacing > 0 mm", actual: "0",
		},
		{
			name:  "negative spacing",
			edit:  func(m map[string]any) { object(m, "preprocessing")["spacing_mm"] = []any{-1, -1, -1} },
			field: "preprocessing.spacing_mm[2]", expected: "a finite spacing > 0 mm", actual: "-1",
		},
		{
			name:  "anisotropic spacing",
			edit:  func(m map[string]any) { object(m, "preprocessing")["spacing_mm"] = []any{1, 1, 2} },
			field: "preprocessing.spacing_mm", expected: "isotropic spacing (three equal values)", actual: "[1 1 2]", unsupported: true,
		},
		{
			name:  "HU window reversed",
			edit:  func(m map[string]any) { object(m, "preprocessing")["hu_window"] = []any{210, -90} },
			field: "preprocessing.hu_window", expected: "finite [lower, upper] with lower < upper", actual: "[210 -90]",
		},
		{
			name:  "z-score normalization",
			edit:  func(m map[string]any) { object(m, "preprocessing")["normalization"] = "zscore" },
			field: "preprocessing.normalization", expected: `"window_to_minus1_plus1"`, actual: `"zscore"`, unsupported: true,
		},
		{
			name:  "channels-last layout",
			edit:  func(m map[string]any) { object(m, "preprocessing")["tensor_layout"] = "NDHWC" },
			field: "preprocessing.tensor_layout", expected: `"NCDHW"`, actual: `"NDHWC"`, unsupported: true,
		},
		{
			name:  "RAS axis directions",
			edit:  func(m map[string]any) { object(m, "preprocessing")["axis_directions"] = "D=+S, H=+A, W=+R (RAS)" },
			field: "preprocessing.axis_directions", expected: `"D=+S, H=+P, W=+L (LPS)"`, actual: `"D=+S, H=+A, W=+R (RAS)"`, unsupported: true,
		},
		{
			name:  "constant blend",
			edit:  func(m map[string]any) { object(m, "inference")["blend"] = "constant" },
			field: "inference.blend", expected: `"gaussian"`, actual: `"constant"`, unsupported: true,
		},
		{
			name:  "overlap 1",
			edit:  func(m map[string]any) { object(m, "inference")["overlap"] = 1 },
			field: "inference.overlap", expected: "a fraction in [0, 1)", actual: "1",
		},
		{
			name:  "negative crop margin",
			edit:  func(m map[string]any) { object(m, "inference")["crop_margin_mm"] = -2 },
			field: "inference.crop_margin_mm", expected: "a finite margin >= 0 mm", actual: "-2",
		},
		{
			name:    "ONNX input named ct",
			replace: map[string]string{"base.onnx": "bad/base_input_name_ct.onnx"},
			model:   "base", field: "onnx inputs[0].name", expected: `"image" (from the manifest)`, actual: `"ct"`,
		},
		{
			name:    "ONNX output named probs",
			replace: map[string]string{"base.onnx": "bad/base_output_name_probs.onnx"},
			model:   "base", field: "onnx outputs[0].name", expected: `"probabilities" (from the manifest)`, actual: `"probs"`,
		},
		{
			name:    "ONNX input with 2 channels",
			replace: map[string]string{"base.onnx": "bad/base_input_channels_2.onnx"},
			model:   "base", field: "onnx inputs[0].shape", expected: "[1 1 32 32 32]", actual: "[1 2 32 32 32]",
		},
		{
			name:    "ONNX output with 3 channels",
			replace: map[string]string{"base.onnx": "bad/base_output_channels_3.onnx"},
			model:   "base", field: "onnx outputs[0].shape", expected: "[1 2 32 32 32]", actual: "[1 3 32 32 32]",
		},
		{
			name:    "ONNX spatial size 32x32x64",
			replace: map[string]string{"base.onnx": "bad/base_spatial_32x32x64.onnx"},
			model:   "base", field: "onnx inputs[0].shape", expected: "[1 1 32 32 32]", actual: "[1 1 32 32 64]",
		},
		{
			name:    "ONNX dynamic depth",
			replace: map[string]string{"base.onnx": "bad/base_dynamic_depth.onnx"},
			model:   "base", field: "onnx inputs[0].shape", expected: "[1 1 32 32 32]", actual: "[1 1 -1 32 32]",
		},
		{
			name:    "ONNX batch size 2",
			replace: map[string]string{"base.onnx": "bad/base_batch_2.onnx"},
			model:   "base", field: "onnx inputs[0].shape", expected: "[1 1 32 32 32]", actual: "[2 1 32 32 32]",
		},
		{
			name:    "ONNX float64 input",
			replace: map[string]string{"base.onnx": "bad/base_input_float64.onnx"},
			model:   "base", field: "onnx inputs[0].type", expected: "a float32 tensor", actual: "DATA_TYPE_DOUBLE",
		},
		{
			name:    "ONNX with two outputs",
			replace: map[string]string{"base.onnx": "bad/base_two_outputs.onnx"},
			model:   "base", field: "onnx outputs", expected: "1 tensor(s) as in the manifest", actual: `2: ["probabilities" "kidney"]`,
		},
		{
			name:    "protuberance file holds the base model",
			replace: map[string]string{"protuberance.onnx": "chain/base.onnx"},
			model:   "protuberance", field: "onnx inputs[0].name", expected: `"kidney_probability" (from the manifest)`, actual: `"image"`,
		},
		{
			name:    "fusion file is not ONNX",
			replace: map[string]string{"fusion.onnx": "README.md"},
			model:   "fusion", field: "onnx", expected: "a model that ONNX Runtime can load", actual: `"fusion.onnx" fails to load`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeBundle(t, tc.edit, tc.replace)
			if tc.remove != "" {
				if err := os.Remove(filepath.Join(dir, tc.remove)); err != nil {
					t.Fatal(err)
				}
			}

			b, err := LoadBundleDir(dir)
			if err == nil {
				t.Fatalf("LoadBundleDir returned bundle %q and no error", b.Manifest.BundleID)
			}
			var match *BundleError
			for _, be := range bundleErrors(err) {
				if be.Field == tc.field {
					match = be
				}
			}
			if match == nil {
				t.Fatalf("no BundleError for field %q in: %v", tc.field, err)
			}
			if match.Model != tc.model {
				t.Errorf("Model = %q, want %q", match.Model, tc.model)
			}
			if !strings.HasPrefix(match.Expected, tc.expected) {
				t.Errorf("Expected = %q, want it to start with %q", match.Expected, tc.expected)
			}
			if !strings.Contains(match.Actual, tc.actual) {
				t.Errorf("Actual = %q, want it to contain %q", match.Actual, tc.actual)
			}
			if match.Unsupported != tc.unsupported {
				t.Errorf("Unsupported = %v, want %v", match.Unsupported, tc.unsupported)
			}
			if match.Bundle != dir {
				t.Errorf("Bundle = %q, want the folder %q", match.Bundle, dir)
			}
		})
	}
}

func TestBundleErrorMessage(t *testing.T) {
	err := &BundleError{Bundle: "models/v3", Model: "fusion", Field: "models.fusion.inputs[0].channels", Expected: "2", Actual: "1"}
	want := `inference: bundle "models/v3": model "fusion": invalid models.fusion.inputs[0].channels: expected 2, got 1`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	err = &BundleError{Bundle: "models/v3", Field: "format_version", Expected: "1", Actual: "2", Unsupported: true}
	want = `inference: bundle "models/v3": unsupported format_version: expected 1, got 2`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

// One load reports every violation, not only the first.
func TestLoadBundleReportsAllViolations(t *testing.T) {
	requireRuntime(t)
	dir := writeBundle(t, func(m map[string]any) {
		m["format_version"] = 7
		object(m, "inference.thresholds")["kidney"] = 2
		tensorSpec(m, "fusion", "inputs")["channels"] = 3
	}, nil)
	_, err := LoadBundleDir(dir)
	var fields []string
	for _, be := range bundleErrors(err) {
		fields = append(fields, be.Field)
	}
	want := []string{"format_version", "models.fusion.inputs[0].channels", "inference.thresholds.kidney"}
	if strings.Join(fields, ",") != strings.Join(want, ",") {
		t.Errorf("fields = %q, want %q", fields, want)
	}
}

func TestLoadBundleRejectsMalformedManifest(t *testing.T) {
	requireRuntime(t)
	tests := []struct {
		name     string
		manifest string
		reason   string
	}{
		{"truncated JSON", `{"format_version": 1, "models": {`, "malformed manifest.json"},
		{"misspelled key", `{"format_version": 1, "treshold": 0.5}`, `unknown field "treshold"`},
		{"string for a number", `{"format_version": "1"}`, "malformed manifest.json"},
	}
	for _, tc := range tests {
		dir := writeBundle(t, nil, nil)
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(tc.manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadBundleDir(dir)
		if err == nil || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.reason)
		}
	}

	if _, err := LoadBundleDir(filepath.Join(chainBundleDir, "base.onnx")); err == nil || !strings.Contains(err.Error(), "is not a folder") {
		t.Errorf("LoadBundleDir of a file: got %v, want 'is not a folder'", err)
	}
	if _, err := LoadBundleDir(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("LoadBundleDir of a missing folder returned no error")
	}
}

// FuzzLoadBundleManifest feeds arbitrary manifests next to valid models. A manifest
// either fails with an error or yields a bundle that keeps the promises the pipeline
// relies on, and it never panics.
func FuzzLoadBundleManifest(f *testing.F) {
	if runtimeMissing {
		f.Skip(runtimeProblem)
	}
	valid, err := os.ReadFile(filepath.Join(chainBundleDir, ManifestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add([]byte(strings.Replace(string(valid), `"patch_size": [32, 32, 32]`, `"patch_size": [32, 32]`, 1)))
	f.Add([]byte(strings.Replace(string(valid), `"inputs": [{"name": "image", "channels": 1}]`, `"inputs": []`, 1)))
	f.Add([]byte(strings.Replace(string(valid), `"spacing_mm": [1.0, 1.0, 1.0]`, `"spacing_mm": null`, 1)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))

	dir := writeBundle(f, nil, nil)
	f.Fuzz(func(t *testing.T, manifest []byte) {
		if len(manifest) > 1<<16 {
			t.Skip("manifests over 64 KiB are not interesting")
		}
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := LoadBundleDir(dir)
		if err != nil {
			return
		}
		m := b.Manifest
		for a, p := range m.Inference.PatchSize3() {
			if p <= 0 || p%PatchMultiple != 0 {
				t.Errorf("accepted patch dimension %d = %d", a, p)
			}
		}
		if s := m.Preprocessing.SpacingMMIsotropic(); !(s > 0) {
			t.Errorf("accepted spacing %g", s)
		}
		for _, spec := range []ModelSpec{m.Models.Base, m.Models.Protuberance, m.Models.Fusion} {
			if len(spec.Inputs) != 1 || len(spec.Outputs) != 1 {
				t.Errorf("accepted model %q with %d inputs and %d outputs", spec.File, len(spec.Inputs), len(spec.Outputs))
			}
		}
	})
}
