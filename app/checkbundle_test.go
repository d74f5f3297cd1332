package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/inference"
	"protrude/volume"
)

// copyBundle copies the known-answer chain bundle of the inference tests into a
// temporary folder, replacing the base model with replacement when it is not empty.
func copyBundle(t *testing.T, replacement string) string {
	t.Helper()
	src := filepath.Join("..", "inference", "testdata", "chain")
	dst := t.TempDir()
	for _, name := range []string{"manifest.json", "base.onnx", "protuberance.onnx", "fusion.onnx"} {
		from := filepath.Join(src, name)
		if name == "base.onnx" && replacement != "" {
			from = replacement
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func requireORT(t *testing.T) {
	t.Helper()
	if _, err := findORTLibrary(""); err != nil {
		t.Skipf("ONNX Runtime library not found; run make ort: %v", err)
	}
}

func TestCheckBundleAcceptsMatchingBundle(t *testing.T) {
	requireORT(t)
	if err := run([]string{"check-bundle", "--models", copyBundle(t, ""), "--device", "cpu"}); err != nil {
		t.Errorf("check-bundle on the chain test bundle: %v", err)
	}
}

func TestCheckBundleNamesTheMismatch(t *testing.T) {
	requireORT(t)
	bad := filepath.Join("..", "inference", "testdata", "bad", "base_input_name_ct.onnx")
	err := run([]string{"check-bundle", "--models", copyBundle(t, bad), "--device", "cpu"})
	if err == nil {
		t.Fatal("check-bundle accepted a base model whose input is named ct, not image")
	}
	for _, want := range []string{"base", "image", "ct"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestSplitPositionalTakesInputAnywhere(t *testing.T) {
	cases := []struct {
		args      []string
		wantInput string
		wantRest  []string
	}{
		{[]string{"scan.nii.gz", "-o", "out"}, "scan.nii.gz", []string{"-o", "out"}},
		{[]string{"-o", "out", "scan.nii.gz"}, "scan.nii.gz", []string{"-o", "out"}},
		{[]string{"--device", "cpu", "dir", "--models", "m"}, "dir", []string{"--device", "cpu", "--models", "m"}},
		{[]string{"-run"}, "", []string{"-run"}},
		{[]string{"--session", "review.protrude", "--run"}, "", []string{"--session", "review.protrude", "--run"}},
	}
	for _, tc := range cases {
		input, rest := splitPositional(tc.args)
		if input != tc.wantInput || strings.Join(rest, " ") != strings.Join(tc.wantRest, " ") {
			t.Errorf("splitPositional(%q) = %q, %q; want %q, %q", tc.args, input, rest, tc.wantInput, tc.wantRest)
		}
	}
}

func TestResultWarningsFlagsImplausibleKidney(t *testing.T) {
	g := volume.Grid{Size: [3]int{200, 100, 100}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	kidney := volume.NewMask(g)
	res := &inference.Result{Kidney: kidney, Warnings: []string{inference.WarningNoKidney}}
	if got := resultWarnings(res); len(got) != 1 {
		t.Errorf("empty kidney mask: warnings = %q, want only the pipeline's own", got)
	}
	for i := range kidney.Labels {
		kidney.Labels[i] = 1 // 2000 mL
	}
	got := resultWarnings(res)
	if len(got) != 2 || !strings.Contains(got[1], "2000 mL") {
		t.Errorf("2000 mL kidney mask: warnings = %q, want a second one naming 2000 mL", got)
	}
}
