package components

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"protrude/volume"
	"protrude/volume/nifti"
)

// maskFromVoxels returns a mask of the given size at 1 mm with label 1 at each index.
func maskFromVoxels(size [3]int, voxels ...[3]int) *volume.Mask {
	m := volume.NewMask(volume.Grid{Size: size, SpacingMM: volume.Vec3{1, 1, 1}, AxesLPS: volume.IdentityAxesLPS})
	for _, v := range voxels {
		m.Labels[m.Offset(v[0], v[1], v[2])] = 1
	}
	return m
}

func TestLabelConnectivity(t *testing.T) {
	cases := []struct {
		name   string
		voxels [][3]int
		want6  int
		want26 int
	}{
		{"empty", nil, 0, 0},
		{"single voxel", [][3]int{{2, 2, 2}}, 1, 1},
		{"face neighbours along i", [][3]int{{1, 1, 1}, {2, 1, 1}}, 1, 1},
		{"face neighbours along k", [][3]int{{1, 1, 1}, {1, 1, 2}}, 1, 1},
		{"edge neighbours in ij", [][3]int{{1, 1, 1}, {2, 2, 1}}, 2, 1},
		{"edge neighbours in jk", [][3]int{{1, 1, 1}, {1, 2, 2}}, 2, 1},
		{"corner neighbours", [][3]int{{1, 1, 1}, {2, 2, 2}}, 2, 1},
		{"corner neighbours towards lower i", [][3]int{{3, 1, 1}, {2, 2, 2}}, 2, 1},
		{"gap of one voxel", [][3]int{{1, 1, 1}, {3, 1, 1}}, 2, 2},
		// A diagonal staircase: under 26-connectivity each step joins the next.
		{"diagonal line of four", [][3]int{{0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}}, 4, 1},
		// A U shape whose arms meet only at the bottom row, which the scan reaches
		// last, so two provisional labels must merge.
		{"U shape", [][3]int{{0, 0, 0}, {0, 1, 0}, {0, 2, 0}, {1, 2, 0}, {2, 2, 0}, {2, 1, 0}, {2, 0, 0}}, 1, 1},
	}
	for _, tc := range cases {
		for _, conn := range []Connectivity{Connectivity6, Connectivity26} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, conn), func(t *testing.T) {
				l, err := Label(maskFromVoxels([3]int{5, 5, 5}, tc.voxels...), conn)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.want26
				if conn == Connectivity6 {
					want = tc.want6
				}
				if len(l.Components) != want {
					t.Errorf("got %d components, want %d", len(l.Components), want)
				}
				total := 0
				for _, c := range l.Components {
					total += c.VoxelCount
				}
				if total != len(tc.voxels) {
					t.Errorf("components hold %d voxels, want %d", total, len(tc.voxels))
				}
			})
		}
	}
}

func TestLabelMeasuresComponents(t *testing.T) {
	// Two components on a grid of 2 × 0.5 × 3 mm voxels (3 mm³ = 0.003 mL each):
	// a 3 × 2 × 1 block at i 1..3, j 4..5, k 0, and one voxel at (0, 0, 3) that the
	// scan meets later because k is the slowest axis.
	m := volume.NewMask(volume.Grid{Size: [3]int{6, 7, 5}, SpacingMM: volume.Vec3{2, 0.5, 3}, AxesLPS: volume.IdentityAxesLPS})
	for j := 4; j <= 5; j++ {
		for i := 1; i <= 3; i++ {
			m.Labels[m.Offset(i, j, 0)] = 1
		}
	}
	m.Labels[m.Offset(0, 0, 3)] = 7 // any non-zero label is foreground

	l, err := Label(m, Connectivity26)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Components) != 2 {
		t.Fatalf("got %d components, want 2", len(l.Components))
	}
	want := []Component{
		{VoxelCount: 6, BoundingBox: Box{Min: [3]int{1, 4, 0}, Max: [3]int{4, 6, 1}}, VolumeML: 0.018},
		{VoxelCount: 1, BoundingBox: Box{Min: [3]int{0, 0, 3}, Max: [3]int{1, 1, 4}}, VolumeML: 0.003},
	}
	for c, w := range want {
		got := l.Components[c]
		if got.VoxelCount != w.VoxelCount {
			t.Errorf("component %d: VoxelCount = %d, want %d", c, got.VoxelCount, w.VoxelCount)
		}
		if got.BoundingBox != w.BoundingBox {
			t.Errorf("component %d: BoundingBox = %+v, want %+v", c, got.BoundingBox, w.BoundingBox)
		}
		if math.Abs(got.VolumeML-w.VolumeML) > 1e-12 {
			t.Errorf("component %d: VolumeML = %g, want %g", c, got.VolumeML, w.VolumeML)
		}
	}
	if want := (Box{Min: [3]int{0, 0, 0}, Max: [3]int{4, 6, 4}}); l.Box != want {
		t.Errorf("Box = %+v, want %+v", l.Box, want)
	}
	if got := l.ComponentAt(2, 5, 0); got != 0 {
		t.Errorf("ComponentAt(2, 5, 0) = %d, want 0", got)
	}
	if got := l.ComponentAt(0, 0, 3); got != 1 {
		t.Errorf("ComponentAt(0, 0, 3) = %d, want 1", got)
	}
	if got := l.ComponentAt(0, 0, 0); got != -1 {
		t.Errorf("ComponentAt(0, 0, 0), a background voxel inside Box, = %d, want -1", got)
	}
	if got := l.ComponentAt(5, 6, 4); got != -1 {
		t.Errorf("ComponentAt(5, 6, 4), outside Box, = %d, want -1", got)
	}
}

func TestLabelRejectsInvalidInput(t *testing.T) {
	m := maskFromVoxels([3]int{3, 3, 3}, [3]int{1, 1, 1})
	if _, err := Label(m, 18); err == nil || !strings.Contains(err.Error(), "18") {
		t.Errorf("connectivity 18: error = %v, want one naming 18", err)
	}
	m.Labels = m.Labels[:10]
	if _, err := Label(m, Connectivity26); err == nil || !strings.Contains(err.Error(), "10 labels") {
		t.Errorf("short label slice: error = %v, want one naming the 10 labels", err)
	}
}

// floodFill is a plain breadth-first reference labelling. It returns, for every
// voxel, the component number in the same order as [Label] (first voxel in flat
// order), or 0.
func floodFill(m *volume.Mask, conn Connectivity) ([]int32, int) {
	labels := make([]int32, len(m.Labels))
	var steps [][3]int
	for dk := -1; dk <= 1; dk++ {
		for dj := -1; dj <= 1; dj++ {
			for di := -1; di <= 1; di++ {
				n := abs(di) + abs(dj) + abs(dk)
				if n == 0 || (conn == Connectivity6 && n != 1) {
					continue
				}
				steps = append(steps, [3]int{di, dj, dk})
			}
		}
	}
	count := int32(0)
	for start := range m.Labels {
		if m.Labels[start] == 0 || labels[start] != 0 {
			continue
		}
		count++
		labels[start] = count
		queue := []int{start}
		for len(queue) > 0 {
			n := queue[0]
			queue = queue[1:]
			i, j, k := n%m.Size[0], (n/m.Size[0])%m.Size[1], n/(m.Size[0]*m.Size[1])
			for _, s := range steps {
				ni, nj, nk := i+s[0], j+s[1], k+s[2]
				if !m.Contains(ni, nj, nk) {
					continue
				}
				o := m.Offset(ni, nj, nk)
				if m.Labels[o] != 0 && labels[o] == 0 {
					labels[o] = count
					queue = append(queue, o)
				}
			}
		}
	}
	return labels, int(count)
}

func TestLabelMatchesFloodFill(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		size := [3]int{1 + rng.Intn(9), 1 + rng.Intn(9), 1 + rng.Intn(9)}
		density := rng.Float64()
		m := maskFromVoxels(size)
		for n := range m.Labels {
			if rng.Float64() < density {
				m.Labels[n] = 1
			}
		}
		for _, conn := range []Connectivity{Connectivity6, Connectivity26} {
			want, count := floodFill(m, conn)
			l, err := Label(m, conn)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Components) != count {
				t.Fatalf("trial %d, size %v, connectivity %d: got %d components, want %d", trial, size, conn, len(l.Components), count)
			}
			for k := 0; k < size[2]; k++ {
				for j := 0; j < size[1]; j++ {
					for i := 0; i < size[0]; i++ {
						if got := l.ComponentAt(i, j, k) + 1; got != int(want[m.Offset(i, j, k)]) {
							t.Fatalf("trial %d, size %v, connectivity %d: voxel (%d, %d, %d) is in component %d, want %d",
								trial, size, conn, i, j, k, got, want[m.Offset(i, j, k)])
						}
					}
				}
			}
		}
	}
}

// kitsCase is a real label map, read only when the shared data is present.
const kitsCase = "../../../shared/data/kits19/case_00015.nii.gz"

// sciPyComponentSizes runs scipy.ndimage.label with the full 3×3×3 structure, which
// is 26-connectivity, on the kidney (label >= 1) and tumor (label 2) of a label map
// and returns the sorted component sizes of each. SciPy numbers components in the C
// order of the (slice, row, column) array, which differs from Label's order, so only
// sorted sizes are comparable.
func sciPyComponentSizes(t *testing.T, path string) map[string]string {
	t.Helper()
	script := `
import sys, nibabel as nib, numpy as np
from scipy import ndimage
labels = np.asarray(nib.load(sys.argv[1]).dataobj)
for name, mask in (("kidney", labels >= 1), ("tumor", labels == 2)):
    components, n = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    print(name + ":", " ".join(str(s) for s in sorted(np.bincount(components.ravel())[1:])))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "No module named") {
			t.Skipf("nibabel or scipy is not installed (Debian packages python3-nibabel, python3-scipy): %s", out)
		}
		t.Fatalf("scipy reference failed: %v\n%s", err, out)
	}
	sizes := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, values, _ := strings.Cut(line, ":")
		sizes[name] = strings.Join(strings.Fields(values), " ")
	}
	return sizes
}

// TestLabelAgreesWithSciPy compares the kidney and tumor components of a real KiTS19
// case with those of scipy.ndimage.label.
func TestLabelAgreesWithSciPy(t *testing.T) {
	if _, err := os.Stat(kitsCase); err != nil {
		t.Skipf("KiTS19 masks not found at %s (they live outside the repository): %v", kitsCase, err)
	}
	labels, _, err := nifti.ReadMask(kitsCase)
	if err != nil {
		t.Fatal(err)
	}
	want := sciPyComponentSizes(t, kitsCase)

	for name, keep := range map[string]func(uint8) bool{
		"kidney": func(l uint8) bool { return l >= 1 },
		"tumor":  func(l uint8) bool { return l == 2 },
	} {
		t.Run(name, func(t *testing.T) {
			m := volume.NewMask(labels.Grid)
			for n, l := range labels.Labels {
				if keep(l) {
					m.Labels[n] = 1
				}
			}
			l, err := Label(m, Connectivity26)
			if err != nil {
				t.Fatal(err)
			}
			var sizes []int
			for _, c := range l.Components {
				sizes = append(sizes, c.VoxelCount)
			}
			slices.Sort(sizes)
			var got []string
			for _, n := range sizes {
				got = append(got, fmt.Sprint(n))
			}
			if strings.Join(got, " ") != want[name] {
				t.Errorf("component sizes = %v, scipy gives %v", got, want[name])
			}
		})
	}
}

func BenchmarkLabelKiTSKidney(b *testing.B) {
	path, _ := filepath.Abs(kitsCase)
	labels, _, err := nifti.ReadMask(path)
	if err != nil {
		b.Skipf("KiTS19 case not available: %v", err)
	}
	m := volume.NewMask(labels.Grid)
	for n, l := range labels.Labels {
		if l >= 1 {
			m.Labels[n] = 1
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Label(m, Connectivity26); err != nil {
			b.Fatal(err)
		}
	}
}
