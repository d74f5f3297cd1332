package seg

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
	"protrude/volume/nifti"
)

const realNCCTPath = "../../shared/data/real_ncct/torso_ncct_3mm.nii.gz"

func TestCombineLabelsPrecedence(t *testing.T) {
	g := volume.Grid{Size: [3]int{8, 1, 1}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	l := Layers{Kidney: volume.NewMask(g), Protrusion: volume.NewMask(g), Tumor: volume.NewMask(g)}
	// Voxel i holds the layers in the bits of i: 1 kidney, 2 protrusion, 4 tumor.
	for i := 0; i < 8; i++ {
		l.Kidney.Labels[i] = uint8(i & 1)
		l.Protrusion.Labels[i] = uint8(i >> 1 & 1)
		l.Tumor.Labels[i] = uint8(i>>2&1) * 9 // any nonzero value counts
	}
	want := []uint8{0, 1, 2, 2, 3, 3, 3, 3}

	combined, err := CombineLabels(l)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if combined.Labels[i] != w {
			t.Errorf("voxel with kidney=%d protrusion=%d tumor=%d: label %d, want %d", i&1, i>>1&1, i>>2&1, combined.Labels[i], w)
		}
	}

	split, err := SplitLabels(combined)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		got := [3]uint8{split.Kidney.Labels[i], split.Protrusion.Labels[i], split.Tumor.Labels[i]}
		var expected [3]uint8
		if w > 0 {
			expected[w-1] = 1
		}
		if got != expected {
			t.Errorf("label %d split into kidney, protrusion, tumor = %v, want %v", w, got, expected)
		}
	}
}

func TestSplitLabelsRejectsUnknownLabel(t *testing.T) {
	g := volume.Grid{Size: [3]int{2, 2, 2}, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS}
	m := volume.NewMask(g)
	m.Labels[g.Offset(1, 0, 1)] = 4
	_, err := SplitLabels(m)
	if err == nil || !strings.Contains(err.Error(), "(1, 0, 1) has label 4") {
		t.Errorf("SplitLabels with label 4: error %v, want one naming voxel (1, 0, 1) and label 4", err)
	}
}

func TestLabelMapDescriptionFits(t *testing.T) {
	// The NIfTI-1 descrip field holds 79 bytes and a NUL, so a longer text loses its end.
	if len(LabelMapDescription) > 79 {
		t.Errorf("LabelMapDescription has %d bytes, want at most 79", len(LabelMapDescription))
	}
}

// nibabelLabelScript prints the affine and shape of a file and writes its voxels as
// uint8 in Fortran (i fastest) order to the second argument.
const nibabelLabelScript = `
import json, sys
import nibabel as nib, numpy as np
image = nib.load(sys.argv[1])
np.asarray(image.dataobj, dtype=np.uint8).ravel(order='F').tofile(sys.argv[2])
source = nib.load(sys.argv[3])
print(json.dumps({'affine': image.affine.tolist(), 'source_affine': source.affine.tolist(),
                  'shape': list(image.shape), 'descrip': image.header['descrip'].item().decode()}))
`

// TestLabelMapNibabel writes the label map of overlapping shapes on the real CT's grid
// and checks with nibabel that it has the CT's affine and that tumor wins over
// protrusion and protrusion over kidney.
func TestLabelMapNibabel(t *testing.T) {
	if _, err := os.Stat(realNCCTPath); err != nil {
		t.Skipf("skipping: the shared real CT %s is absent (%v); it exists only in the development checkout", realNCCTPath, err)
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import nibabel, numpy").Run(); err != nil {
		t.Skipf("skipping: nibabel is the referee, and %s -c 'import nibabel, numpy' failed: %v", python, err)
	}
	ct, hdr, err := nifti.Read(realNCCTPath)
	if err != nil {
		t.Fatal(err)
	}
	layers := syntheticLayers(ct.Grid)
	dir := t.TempDir()
	path := filepath.Join(dir, "labels.nii.gz")
	if err := WriteLabelMap(path, layers, hdr); err != nil {
		t.Fatal(err)
	}

	rawPath := filepath.Join(dir, "labels.u8")
	out, err := exec.Command(python, "-c", nibabelLabelScript, path, rawPath, realNCCTPath).Output()
	if err != nil {
		t.Fatalf("nibabel failed: %v", err)
	}
	var ref struct {
		Affine       [4][4]float64 `json:"affine"`
		SourceAffine [4][4]float64 `json:"source_affine"`
		Shape        []int         `json:"shape"`
		Descrip      string        `json:"descrip"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatalf("nibabel output %q is not JSON: %v", out, err)
	}
	if ref.Affine != ref.SourceAffine {
		t.Errorf("label map affine = %v, want the CT's %v", ref.Affine, ref.SourceAffine)
	}
	if len(ref.Shape) != 3 || ref.Shape[0] != ct.Size[0] || ref.Shape[1] != ct.Size[1] || ref.Shape[2] != ct.Size[2] {
		t.Errorf("label map shape = %v, want %v", ref.Shape, ct.Size)
	}
	if !strings.Contains(ref.Descrip, ResearchNotice) || !strings.Contains(ref.Descrip, "3>2>1") {
		t.Errorf("descrip = %q, want the precedence 3>2>1 and %q", ref.Descrip, ResearchNotice)
	}

	labels, err := os.ReadFile(rawPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != ct.NumVoxels() {
		t.Fatalf("nibabel returned %d voxels, want %d", len(labels), ct.NumVoxels())
	}
	var overlaps [4]int // voxels checked per expected label
	for n := range labels {
		want := uint8(0)
		switch {
		case layers.Tumor.Labels[n] != 0:
			want = 3
		case layers.Protrusion.Labels[n] != 0:
			want = 2
		case layers.Kidney.Labels[n] != 0:
			want = 1
		}
		if labels[n] != want {
			t.Fatalf("voxel %d: nibabel reads label %d, want %d (kidney %d, protrusion %d, tumor %d)",
				n, labels[n], want, layers.Kidney.Labels[n], layers.Protrusion.Labels[n], layers.Tumor.Labels[n])
		}
		if layers.Kidney.Labels[n] != 0 && want > 1 {
			overlaps[want]++
		}
	}
	// The shapes must overlap, or the precedence was never exercised.
	if overlaps[2] == 0 || overlaps[3] == 0 {
		t.Fatalf("kidney voxels labelled 2: %d, labelled 3: %d; the synthetic shapes do not overlap", overlaps[2], overlaps[3])
	}

	back, _, err := ReadLabelMap(path)
	if err != nil {
		t.Fatal(err)
	}
	for n := range labels {
		if labels[n] == 3 && (back.Tumor.Labels[n] == 0 || back.Kidney.Labels[n] != 0) {
			t.Fatalf("voxel %d with label 3 read back as kidney %d, tumor %d; want tumor only", n, back.Kidney.Labels[n], back.Tumor.Labels[n])
		}
	}
}
