package lesions

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"protrude/volume"
	"protrude/volume/components"
	"protrude/volume/nifti"
)

// testGrid is a grid with CT-like voxels: 0.8 mm in plane, 2.5 mm slices.
func testGrid(size [3]int) volume.Grid {
	return volume.Grid{Size: size, SpacingMM: volume.Vec3{0.8, 0.8, 2.5}, OriginLPS: volume.Vec3{-100, 50, 30}, AxesLPS: volume.IdentityAxesLPS}
}

// setBlock sets label in the half-open index box [lo, hi).
func setBlock(m *volume.Mask, lo, hi [3]int, label uint8) {
	for k := lo[2]; k < hi[2]; k++ {
		for j := lo[1]; j < hi[1]; j++ {
			for i := lo[0]; i < hi[0]; i++ {
				m.Labels[m.Offset(i, j, k)] = label
			}
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

func TestMeasureKnownLesions(t *testing.T) {
	g := testGrid([3]int{10, 8, 6})
	tumor := volume.NewMask(g)
	ct := volume.NewVolume(g)
	for n := range ct.Voxels {
		ct.Voxels[n] = -50
	}

	// A 3×2×2 block whose CT values are 10 in slice k=2 and 40 in slice k=3, so the mean
	// is 25 HU, and one voxel of label 2 at 70 HU.
	setBlock(tumor, [3]int{1, 2, 2}, [3]int{4, 4, 4}, 1)
	for j := 2; j < 4; j++ {
		for i := 1; i < 4; i++ {
			ct.Voxels[ct.Offset(i, j, 2)] = 10
			ct.Voxels[ct.Offset(i, j, 3)] = 40
		}
	}
	tumor.Labels[tumor.Offset(8, 6, 5)] = 2
	ct.Voxels[ct.Offset(8, 6, 5)] = 70

	table, err := Measure(tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Lesions) != 2 {
		t.Fatalf("%d lesions, want 2", len(table.Lesions))
	}
	voxelML := 0.8 * 0.8 * 2.5 / 1000
	cases := []struct {
		name       string
		got        Lesion
		id         int
		voxels     int
		volumeML   float64
		diameterMM float64
		meanHU     float64
		box        components.Box
	}{
		// The block's farthest voxel centres differ by (2, 1, 1) voxels:
		// sqrt(1.6² + 0.8² + 2.5²) = sqrt(9.45) mm.
		{"block", table.Lesions[0], 1, 12, 12 * voxelML, math.Sqrt(9.45), 25, components.Box{Min: [3]int{1, 2, 2}, Max: [3]int{4, 4, 4}}},
		{"single voxel", table.Lesions[1], 2, 1, voxelML, 0, 70, components.Box{Min: [3]int{8, 6, 5}, Max: [3]int{9, 7, 6}}},
	}
	for _, c := range cases {
		l := c.got
		if l.ID != c.id || l.Status != Unreviewed {
			t.Errorf("%s: ID %d status %q, want %d %q", c.name, l.ID, l.Status, c.id, Unreviewed)
		}
		if l.VoxelCount != c.voxels {
			t.Errorf("%s: %d voxels, want %d", c.name, l.VoxelCount, c.voxels)
		}
		if !near(l.VolumeML, c.volumeML) {
			t.Errorf("%s: volume %g mL, want %g", c.name, l.VolumeML, c.volumeML)
		}
		if !near(l.MaxDiameterMM, c.diameterMM) {
			t.Errorf("%s: max diameter %g mm, want %g", c.name, l.MaxDiameterMM, c.diameterMM)
		}
		if !near(l.MeanHU, c.meanHU) {
			t.Errorf("%s: mean %g HU, want %g", c.name, l.MeanHU, c.meanHU)
		}
		if l.BoundingBox != c.box {
			t.Errorf("%s: bounding box %v, want %v", c.name, l.BoundingBox, c.box)
		}
	}
	if first, last := table.Lesions[0].SliceRange(2); first != 2 || last != 3 {
		t.Errorf("block: axial slice range %d-%d, want 2-3", first, last)
	}
	if got := table.LesionAt(2, 3, 3); got != 0 {
		t.Errorf("LesionAt inside the block is %d, want 0", got)
	}
	if got := table.LesionAt(0, 0, 0); got != -1 {
		t.Errorf("LesionAt a background voxel is %d, want -1", got)
	}
}

// bruteForceDiametersMM measures each component by comparing every pair of its voxels.
func bruteForceDiametersMM(l *components.Labeling) []float64 {
	points := make([][]point, len(l.Components))
	box := l.Box
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				if c := l.ComponentAt(i, j, k); c >= 0 {
					s := l.Grid.SpacingMM
					points[c] = append(points[c], point{float64(i) * s[0], float64(j) * s[1], float64(k) * s[2]})
				}
			}
		}
	}
	out := make([]float64, len(points))
	for c, ps := range points {
		best := 0.0
		for a := range ps {
			for b := a + 1; b < len(ps); b++ {
				best = max(best, squaredDistance(ps[a], ps[b]))
			}
		}
		out[c] = math.Sqrt(best)
	}
	return out
}

func TestMaxDiameterMatchesBruteForce(t *testing.T) {
	cases := []struct {
		name string
		fill func(m *volume.Mask, rng *rand.Rand)
	}{
		{"random voxels 30%", func(m *volume.Mask, rng *rand.Rand) {
			for n := range m.Labels {
				if rng.IntN(10) < 3 {
					m.Labels[n] = 1
				}
			}
		}},
		{"union of random balls", func(m *volume.Mask, rng *rand.Rand) {
			for b := 0; b < 6; b++ {
				c := [3]float64{rng.Float64() * 30, rng.Float64() * 30, rng.Float64() * 12}
				r := 2 + rng.Float64()*8
				for k := 0; k < m.Size[2]; k++ {
					for j := 0; j < m.Size[1]; j++ {
						for i := 0; i < m.Size[0]; i++ {
							d := [3]float64{(float64(i) - c[0]) * 0.8, (float64(j) - c[1]) * 0.8, (float64(k) - c[2]) * 2.5}
							if d[0]*d[0]+d[1]*d[1]+d[2]*d[2] <= r*r {
								m.Labels[m.Offset(i, j, k)] = 1
							}
						}
					}
				}
			}
		}},
		{"ball of radius 11 mm", func(m *volume.Mask, _ *rand.Rand) {
			for k := 0; k < m.Size[2]; k++ {
				for j := 0; j < m.Size[1]; j++ {
					for i := 0; i < m.Size[0]; i++ {
						d := [3]float64{(float64(i) - 15) * 0.8, (float64(j) - 15.3) * 0.8, (float64(k) - 6) * 2.5}
						if d[0]*d[0]+d[1]*d[1]+d[2]*d[2] <= 121 {
							m.Labels[m.Offset(i, j, k)] = 1
						}
					}
				}
			}
		}},
	}
	for seed := uint64(1); seed <= 3; seed++ {
		for _, c := range cases {
			rng := rand.New(rand.NewPCG(seed, 7))
			m := volume.NewMask(testGrid([3]int{31, 31, 13}))
			c.fill(m, rng)
			l, err := components.Label(m, components.Connectivity26)
			if err != nil {
				t.Fatal(err)
			}
			got := maxDiametersMM(l)
			want := bruteForceDiametersMM(l)
			for n := range want {
				if got[n] != want[n] {
					t.Errorf("%s, seed %d, component %d of %d voxels: max diameter %g mm, want %g", c.name, seed, n, l.Components[n].VoxelCount, got[n], want[n])
				}
			}
		}
	}
}

func TestUpdateCarriesStatusByOverlap(t *testing.T) {
	g := testGrid([3]int{30, 10, 4})
	tumor := volume.NewMask(g)
	ct := volume.NewVolume(g)
	setBlock(tumor, [3]int{0, 0, 0}, [3]int{3, 3, 2}, 1)   // A: kept as is
	setBlock(tumor, [3]int{6, 0, 0}, [3]int{9, 3, 2}, 1)   // B: grows
	setBlock(tumor, [3]int{12, 0, 0}, [3]int{20, 2, 1}, 1) // C: split into 10 + 4 voxels
	setBlock(tumor, [3]int{22, 0, 0}, [3]int{24, 2, 1}, 1) // D and E: merged
	setBlock(tumor, [3]int{25, 0, 0}, [3]int{26, 2, 1}, 1)
	before, err := Measure(tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for name, first := range map[string][3]int{"A": {0, 0, 0}, "B": {6, 0, 0}, "C": {12, 0, 0}, "D": {22, 0, 0}, "E": {25, 0, 0}} {
		ids[name] = before.Lesions[before.LesionAt(first[0], first[1], first[2])].ID
	}
	for name, s := range map[string]Status{"A": Accepted, "B": Rejected, "C": Accepted, "D": Accepted, "E": Rejected} {
		if err := before.SetStatus(ids[name], s); err != nil {
			t.Fatal(err)
		}
	}

	setBlock(tumor, [3]int{6, 3, 0}, [3]int{7, 4, 1}, 1) // B grows by one voxel
	setBlock(tumor, [3]int{17, 0, 0}, [3]int{18, 2, 1}, 0)
	setBlock(tumor, [3]int{24, 0, 0}, [3]int{25, 2, 1}, 1) // D and E join
	setBlock(tumor, [3]int{0, 8, 3}, [3]int{2, 10, 4}, 1)  // F: new
	after, err := before.Update(tumor, ct)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		voxel  [3]int
		id     int
		status Status
	}{
		{"A unchanged", [3]int{0, 0, 0}, ids["A"], Accepted},
		{"B grown", [3]int{6, 0, 0}, ids["B"], Edited},
		{"C larger part", [3]int{12, 0, 0}, ids["C"], Edited},
		{"C smaller part", [3]int{18, 0, 0}, 6, Edited},
		{"D and E merged", [3]int{22, 0, 0}, ids["D"], Edited},
		{"F new", [3]int{0, 8, 3}, 7, Unreviewed},
	}
	if len(after.Lesions) != len(cases) {
		t.Fatalf("%d lesions after the edit, want %d", len(after.Lesions), len(cases))
	}
	for _, c := range cases {
		n := after.LesionAt(c.voxel[0], c.voxel[1], c.voxel[2])
		if n < 0 {
			t.Errorf("%s: no lesion at %v", c.name, c.voxel)
			continue
		}
		l := after.Lesions[n]
		if l.ID != c.id || l.Status != c.status {
			t.Errorf("%s: ID %d status %q, want %d %q", c.name, l.ID, l.Status, c.id, c.status)
		}
	}
	if before.Lesions[before.LesionAt(6, 0, 0)].Status != Rejected {
		t.Error("Update changed the previous table")
	}
}

func TestSetStatusRejectsUnknown(t *testing.T) {
	g := testGrid([3]int{4, 4, 4})
	tumor := volume.NewMask(g)
	tumor.Labels[0] = 1
	table, err := Measure(tumor, volume.NewVolume(g))
	if err != nil {
		t.Fatal(err)
	}
	if err := table.SetStatus(2, Accepted); !errors.Is(err, ErrUnknownLesion) {
		t.Errorf("SetStatus of ID 2: error %v, want ErrUnknownLesion", err)
	}
	if err := table.SetStatus(1, "maybe"); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("SetStatus \"maybe\": error %v, want one naming the status", err)
	}
}

func TestMeasureRejectsMismatchedCT(t *testing.T) {
	g := testGrid([3]int{4, 4, 4})
	tumor := volume.NewMask(g)
	shifted := g
	shifted.OriginLPS[2] += 2.5
	cases := []struct {
		name string
		ct   *volume.Volume
		want string
	}{
		{"no CT", nil, "no CT volume"},
		{"other size", volume.NewVolume(testGrid([3]int{4, 4, 5})), "CT size [4 4 5] differs"},
		{"shifted origin", volume.NewVolume(shifted), "origin"},
		{"short voxels", &volume.Volume{Grid: g, Voxels: make([]float32, 3)}, "CT has 3 voxels, want 64"},
	}
	for _, c := range cases {
		_, err := Measure(tumor, c.ct)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestSaveLoadKeepsStatus(t *testing.T) {
	g := testGrid([3]int{12, 6, 3})
	tumor := volume.NewMask(g)
	ct := volume.NewVolume(g)
	setBlock(tumor, [3]int{0, 0, 0}, [3]int{2, 2, 2}, 1)
	setBlock(tumor, [3]int{5, 0, 0}, [3]int{7, 2, 2}, 1)
	setBlock(tumor, [3]int{10, 0, 0}, [3]int{12, 2, 2}, 1)
	table, err := Measure(tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	table.SetStatus(1, Accepted)
	table.SetStatus(2, Rejected)

	dir := t.TempDir()
	path := filepath.Join(dir, "lesions.json")
	if err := table.Save(path); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d files after Save, want 1 (no temporary file left)", len(entries))
	}

	loaded, err := Load(path, tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range table.Lesions {
		if got := loaded.Lesions[n]; got != want {
			t.Errorf("lesion %d after load: %+v, want %+v", n, got, want)
		}
	}

	// The second lesion shrinks and a new one appears before the file is loaded again.
	setBlock(tumor, [3]int{5, 0, 0}, [3]int{6, 1, 1}, 0)
	setBlock(tumor, [3]int{0, 4, 2}, [3]int{1, 5, 3}, 1)
	loaded, err = Load(path, tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	want := map[[3]int]Lesion{
		{0, 0, 0}:  {ID: 1, Status: Accepted},
		{6, 0, 0}:  {ID: 2, Status: Edited},
		{10, 0, 0}: {ID: 3, Status: Unreviewed},
		{0, 4, 2}:  {ID: 4, Status: Unreviewed},
	}
	for voxel, w := range want {
		n := loaded.LesionAt(voxel[0], voxel[1], voxel[2])
		if n < 0 {
			t.Errorf("no lesion at %v after load", voxel)
			continue
		}
		if l := loaded.Lesions[n]; l.ID != w.ID || l.Status != w.Status {
			t.Errorf("lesion at %v: ID %d status %q, want %d %q", voxel, l.ID, l.Status, w.ID, w.Status)
		}
	}
}

func TestLoadAtMaxIDKeepsIDsValid(t *testing.T) {
	g := testGrid([3]int{12, 6, 3})
	tumor := volume.NewMask(g)
	ct := volume.NewVolume(g)
	setBlock(tumor, [3]int{0, 0, 0}, [3]int{2, 2, 2}, 1)
	setBlock(tumor, [3]int{5, 0, 0}, [3]int{7, 2, 2}, 1)
	table, err := Measure(tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	table.Lesions[0].ID = MaxID
	table.Lesions[1].ID = 1
	path := filepath.Join(t.TempDir(), "lesions.json")
	if err := table.Save(path); err != nil {
		t.Fatal(err)
	}

	// Two lesions drawn after the save need new IDs, but none is left above MaxID.
	setBlock(tumor, [3]int{10, 0, 0}, [3]int{12, 2, 2}, 1)
	setBlock(tumor, [3]int{0, 4, 2}, [3]int{1, 5, 3}, 1)
	loaded, err := Load(path, tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := map[[3]int]int{{0, 0, 0}: MaxID, {5, 0, 0}: 1, {10, 0, 0}: 2, {0, 4, 2}: 3}
	for voxel, want := range wantIDs {
		n := loaded.LesionAt(voxel[0], voxel[1], voxel[2])
		if n < 0 {
			t.Errorf("no lesion at %v after load", voxel)
			continue
		}
		if got := loaded.Lesions[n].ID; got != want {
			t.Errorf("lesion at %v: ID %d, want %d", voxel, got, want)
		}
	}

	// The table with the new IDs saves and loads again.
	if err := loaded.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, tumor, ct); err != nil {
		t.Errorf("reload of the saved table: %v", err)
	}
}

func TestSaveLoadEmptyTable(t *testing.T) {
	g := testGrid([3]int{4, 4, 4})
	tumor := volume.NewMask(g)
	ct := volume.NewVolume(g)
	table, err := Measure(tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "lesions.json")
	if err := table.Save(path); err != nil {
		t.Fatal(err)
	}

	// A lesion drawn after the save is new to the loaded table.
	tumor.Labels[5] = 1
	loaded, err := Load(path, tumor, ct)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Lesions) != 1 || loaded.Lesions[0].ID != 1 || loaded.Lesions[0].Status != Unreviewed {
		t.Errorf("lesions after load %+v, want one with ID 1, unreviewed", loaded.Lesions)
	}
}

func TestLoadRejectsMalformedFile(t *testing.T) {
	g := testGrid([3]int{4, 4, 4})
	tumor := volume.NewMask(g)
	ct := volume.NewVolume(g)
	lesion := func(fields string) string {
		return `{"format":"protrude-lesions","version":1,"gridSize":[4,4,4],"lesions":[` + fields + `]}`
	}
	cases := []struct {
		name string
		json string
		want string
	}{
		{"not JSON", `lesions`, "invalid JSON"},
		{"unknown field", `{"format":"protrude-lesions","version":1,"gridSize":[4,4,4],"lesions":[],"extra":1}`, `unknown field "extra"`},
		{"trailing data", lesion(``) + `{}`, "data after the table"},
		{"other format", `{"format":"x","version":1,"gridSize":[4,4,4]}`, `format is "x"`},
		{"version 2", `{"format":"protrude-lesions","version":2,"gridSize":[4,4,4]}`, "version 2 is not supported"},
		{"zero grid size", `{"format":"protrude-lesions","version":1,"gridSize":[4,0,4]}`, "gridSize [4 0 4] is invalid"},
		{"other grid size", `{"format":"protrude-lesions","version":1,"gridSize":[4,4,5]}`, "gridSize [4 4 5] differs"},
		{"zero ID", lesion(`{"id":0,"status":"accepted","voxelCount":1,"runs":[0,1]}`), "lesions[0].id is 0"},
		{"ID above MaxID", lesion(`{"id":1000000001,"status":"accepted","voxelCount":1,"runs":[0,1]}`), "lesions[0].id is 1000000001, want 1 to 1000000000"},
		{"ID near the int64 maximum", lesion(`{"id":9223372036854775806,"status":"accepted","voxelCount":1,"runs":[0,1]}`), "lesions[0].id is 9223372036854775806"},
		{"duplicate ID", lesion(`{"id":1,"status":"accepted","voxelCount":1,"runs":[0,1]},{"id":1,"status":"accepted","voxelCount":1,"runs":[5,1]}`), "lesions[1].id 1 appears twice"},
		{"unknown status", lesion(`{"id":1,"status":"maybe","voxelCount":1,"runs":[0,1]}`), `lesions[0].status is "maybe"`},
		{"zero voxel count", lesion(`{"id":1,"status":"edited","voxelCount":0,"runs":[]}`), "lesions[0].voxelCount is 0"},
		{"odd run values", lesion(`{"id":1,"status":"edited","voxelCount":1,"runs":[0,1,2]}`), "lesions[0].runs has 3 values"},
		{"run past the grid", lesion(`{"id":1,"status":"edited","voxelCount":1,"runs":[64,1]}`), "lesions[0].runs[0] offset 64 is invalid"},
		{"negative offset", lesion(`{"id":1,"status":"edited","voxelCount":1,"runs":[-1,1]}`), "lesions[0].runs[0] offset -1 is invalid"},
		{"run across a row", lesion(`{"id":1,"status":"edited","voxelCount":3,"runs":[2,3]}`), "lesions[0].runs[1] count 3 is invalid"},
		{"huge run count", lesion(`{"id":1,"status":"edited","voxelCount":1,"runs":[2,9223372036854775807]}`), "lesions[0].runs[1] count 9223372036854775807 is invalid"},
		{"decreasing runs", lesion(`{"id":1,"status":"edited","voxelCount":2,"runs":[5,1,4,1]}`), "lesions[0].runs[2] offset 4 is invalid"},
		{"count mismatch", lesion(`{"id":1,"status":"edited","voxelCount":5,"runs":[4,2]}`), "lesions[0].runs cover 2 voxels, but voxelCount is 5"},
		{"overlapping lesions", lesion(`{"id":1,"status":"edited","voxelCount":2,"runs":[4,2]},{"id":2,"status":"edited","voxelCount":1,"runs":[5,1]}`), "lesions[1].runs overlap the voxels of lesions[0]"},
		{"huge grid", `{"format":"protrude-lesions","version":1,"gridSize":[4096,4096,4096]}`, "more than the limit"},
		{"string ID", lesion(`{"id":"1"}`), "invalid JSON"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-")+".json")
		if err := os.WriteFile(path, []byte(c.json), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, tumor, ct)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q, want one containing %q and the file path", c.name, err, c.want)
		}
	}
}

// FuzzDecode checks that decode never panics and that every table it accepts survives
// an encode and decode round trip.
func FuzzDecode(f *testing.F) {
	g := testGrid([3]int{6, 5, 4})
	tumor := volume.NewMask(g)
	setBlock(tumor, [3]int{0, 0, 0}, [3]int{2, 2, 2}, 1)
	setBlock(tumor, [3]int{4, 3, 3}, [3]int{6, 5, 4}, 1)
	table, err := Measure(tumor, volume.NewVolume(g))
	if err != nil {
		f.Fatal(err)
	}
	table.SetStatus(2, Rejected)
	seed, err := table.encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"format":"protrude-lesions","version":1,"gridSize":[1,1,1],"lesions":[]}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		first, err := decode(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		again, err := decode(strings.NewReader(string(mustMarshal(t, first))))
		if err != nil {
			t.Fatalf("re-decode of an accepted table failed: %v", err)
		}
		if string(mustMarshal(t, again)) != string(mustMarshal(t, first)) {
			t.Fatal("round trip changed the table")
		}
	})
}

func mustMarshal(t *testing.T, f *fileTable) []byte {
	t.Helper()
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestMaxDiameterKiTSMatchesBruteForce(t *testing.T) {
	// case_00017 has 2852 tumor voxels on 5 mm slices, few enough to compare every pair.
	path := filepath.Join("..", "..", "shared", "data", "kits19", "case_00017.nii.gz")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("KiTS19 mask %s not available (%v); it lives outside the repository", path, err)
	}
	m, _, err := nifti.ReadMask(path)
	if err != nil {
		t.Fatal(err)
	}
	for n, l := range m.Labels {
		if l != kitsTumorLabel {
			m.Labels[n] = 0
		}
	}
	l, err := components.Label(m, components.Connectivity26)
	if err != nil {
		t.Fatal(err)
	}
	got := maxDiametersMM(l)
	want := bruteForceDiametersMM(l)
	for n := range want {
		if got[n] != want[n] {
			t.Errorf("component %d of %d voxels: max diameter %g mm, want %g", n, l.Components[n].VoxelCount, got[n], want[n])
		}
	}
	t.Logf("%d components, max diameters %v mm", len(got), got)
}

func TestCloneKeepsOriginalStatus(t *testing.T) {
	g := testGrid([3]int{4, 4, 4})
	tumor := volume.NewMask(g)
	tumor.Labels[0] = 1
	table, err := Measure(tumor, volume.NewVolume(g))
	if err != nil {
		t.Fatal(err)
	}
	clone := table.Clone()
	if err := clone.SetStatus(1, Accepted); err != nil {
		t.Fatal(err)
	}
	if got := table.Lesions[0].Status; got != Unreviewed {
		t.Errorf("original status after SetStatus on the clone is %q, want %q", got, Unreviewed)
	}
	if got := clone.LesionAt(0, 0, 0); got != 0 {
		t.Errorf("clone.LesionAt(0, 0, 0) is %d, want 0, the lesion of the shared labeling", got)
	}
	if err := clone.Save(filepath.Join(t.TempDir(), "lesions.json")); err != nil {
		t.Errorf("save the clone: %v", err)
	}
}
