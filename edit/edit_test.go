package edit

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"protrude/volume"
)

// anisotropicGrid is a small grid with CT-like voxels: 0.8 mm in plane, 2.5 mm slices.
func anisotropicGrid(size [3]int) volume.Grid {
	return volume.Grid{Size: size, SpacingMM: volume.Vec3{0.8, 0.8, 2.5}, AxesLPS: volume.IdentityAxesLPS}
}

// slicePicture draws slice k of m with '.' for 0 and the label digit otherwise, one row
// per j, i increasing to the right.
func slicePicture(m *volume.Mask, k int) string {
	var b strings.Builder
	for j := 0; j < m.Size[1]; j++ {
		for i := 0; i < m.Size[0]; i++ {
			l := m.At(i, j, k)
			if l == 0 {
				b.WriteByte('.')
			} else {
				b.WriteByte('0' + l)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// picture joins the rows of an expected slice picture.
func picture(rows ...string) string { return strings.Join(rows, "\n") + "\n" }

func checkSlice(t *testing.T, stage string, m *volume.Mask, k int, want string) {
	t.Helper()
	if got := slicePicture(m, k); got != want {
		t.Errorf("%s: slice k=%d is\n%s want\n%s", stage, k, got, want)
	}
}

// countOutsideSlice returns the number of non-zero voxels of m outside slice k.
func countOutsideSlice(m *volume.Mask, k int) int {
	n := 0
	for kk := 0; kk < m.Size[2]; kk++ {
		if kk == k {
			continue
		}
		for j := 0; j < m.Size[1]; j++ {
			for i := 0; i < m.Size[0]; i++ {
				if m.At(i, j, kk) != 0 {
					n++
				}
			}
		}
	}
	return n
}

func newTestEditor(t *testing.T, depth int) *Editor {
	t.Helper()
	e, err := NewEditor(depth)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestBrushEraseFillUndoRedo drives one editing session on a 0.8×0.8×2.5 mm grid and
// checks every voxel after each action against hand-computed pictures.
func TestBrushEraseFillUndoRedo(t *testing.T) {
	m := volume.NewMask(anisotropicGrid([3]int{9, 7, 3}))
	e := newTestEditor(t, DefaultHistoryDepth)
	axial := Brush{RadiusMM: 1.6, Shape: Disc, SliceAxis: 2, Label: 1}

	// A 1.6 mm radius is exactly 2 pixels: the dab covers i²+j² ≤ 4 around (2, 3). The drag
	// to (5, 3) adds the 5-pixel-wide band between the two centres and the cap at (5, 3).
	// The k coordinates of the drag differ, but a disc stroke stays in slice 1.
	empty := slicePicture(m, 1)
	if err := e.BeginStroke(m, axial, volume.Vec3{2, 3, 1.2}); err != nil {
		t.Fatal(err)
	}
	if err := e.StrokeTo(volume.Vec3{3.5, 3, 1.4}); err != nil {
		t.Fatal(err)
	}
	if err := e.StrokeTo(volume.Vec3{5, 3, 0.9}); err != nil {
		t.Fatal(err)
	}
	if !e.EndStroke() {
		t.Fatal("EndStroke after a painting stroke recorded no step")
	}
	afterBrush := picture(
		".........",
		"..1111...",
		".111111..",
		"11111111.",
		".111111..",
		"..1111...",
		".........",
	)
	checkSlice(t, "after brush", m, 1, afterBrush)
	if n := countOutsideSlice(m, 1); n != 0 {
		t.Errorf("after brush: %d voxels painted outside the stroke's slice, want 0", n)
	}

	// Erasing with a 0.8 mm radius (one pixel) removes a plus shape around (3, 3).
	if err := e.BeginStroke(m, Brush{RadiusMM: 0.8, SliceAxis: 2}, volume.Vec3{3, 3, 1}); err != nil {
		t.Fatal(err)
	}
	e.EndStroke()
	afterErase := picture(
		".........",
		"..1111...",
		".11.111..",
		"11...111.",
		".11.111..",
		"..1111...",
		".........",
	)
	checkSlice(t, "after erase", m, 1, afterErase)

	// The erased plus is closed by label-1 pixels under 4-connectivity, so a fill at its
	// centre changes exactly those 5 pixels.
	n, err := e.Fill(m, [3]int{3, 3, 1}, FillOptions{SliceAxis: 2, Connectivity: Fill4, Label: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("fill changed %d voxels, want 5", n)
	}
	afterFill := picture(
		".........",
		"..1111...",
		".112111..",
		"11222111.",
		".112111..",
		"..1111...",
		".........",
	)
	checkSlice(t, "after fill", m, 1, afterFill)

	wantLabels := []string{"Brush radius 1.6 mm", "Erase radius 0.8 mm", "Fill"}
	if got := e.History.UndoLabels(); !slices.Equal(got, wantLabels) {
		t.Errorf("undo labels %q, want %q", got, wantLabels)
	}

	// Undo walks back through the three pictures, and redo forward again.
	undoSteps := []struct {
		label string
		want  string
	}{
		{"Fill", afterErase},
		{"Erase radius 0.8 mm", afterBrush},
		{"Brush radius 1.6 mm", empty},
	}
	for _, s := range undoSteps {
		label, ok := e.Undo()
		if !ok || label != s.label {
			t.Fatalf("Undo returned %q, %v, want %q, true", label, ok, s.label)
		}
		checkSlice(t, "after undo of "+s.label, m, 1, s.want)
	}
	if label, ok := e.Undo(); ok {
		t.Errorf("Undo with an empty history returned %q, true", label)
	}
	for _, want := range []string{afterBrush, afterErase} {
		if _, ok := e.Redo(); !ok {
			t.Fatal("Redo returned false with steps to redo")
		}
		checkSlice(t, "after redo", m, 1, want)
	}
	if got := e.History.RedoLabels(); !slices.Equal(got, []string{"Fill"}) {
		t.Errorf("redo labels %q, want [Fill]", got)
	}

	// A new edit clears the redo list.
	if _, err := e.Fill(m, [3]int{0, 0, 1}, FillOptions{SliceAxis: 2, Connectivity: Fill4, Label: 3}); err != nil {
		t.Fatal(err)
	}
	if got := e.History.RedoLabels(); len(got) != 0 {
		t.Errorf("redo labels after a new edit %q, want none", got)
	}
	if _, ok := e.Redo(); ok {
		t.Error("Redo after a new edit returned true")
	}
}

func TestSphereBrushAnisotropic(t *testing.T) {
	m := volume.NewMask(anisotropicGrid([3]int{11, 11, 5}))
	e := newTestEditor(t, DefaultHistoryDepth)

	// Radius 2.5 mm: in plane 0.64(i²+j²) ≤ 6.25, so i²+j² ≤ 9 (29 voxels), and one slice
	// up or down only the centre voxel, at exactly 2.5 mm.
	if err := e.BeginStroke(m, Brush{RadiusMM: 2.5, Shape: Sphere, Label: 4}, volume.Vec3{5, 5, 2}); err != nil {
		t.Fatal(err)
	}
	e.EndStroke()
	perSlice := []int{0, 1, 29, 1, 0}
	for k, want := range perSlice {
		got := 0
		for j := 0; j < 11; j++ {
			for i := 0; i < 11; i++ {
				if l := m.At(i, j, k); l == 4 {
					got++
				} else if l != 0 {
					t.Fatalf("voxel (%d, %d, %d) has label %d, want 0 or 4", i, j, k, l)
				}
			}
		}
		if got != want {
			t.Errorf("slice k=%d has %d painted voxels, want %d", k, got, want)
		}
	}
	if got := e.History.UndoLabels(); !slices.Equal(got, []string{"Brush sphere radius 2.5 mm"}) {
		t.Errorf("undo labels %q, want [Brush sphere radius 2.5 mm]", got)
	}
}

func TestDiscBrushInEachPlane(t *testing.T) {
	// A 1 mm disc: in plane the 0.8 mm axes give a plus of 5 voxels, but where one
	// in-plane axis is 2.5 mm only 3 voxels along the 0.8 mm axis are within reach.
	cases := []struct {
		name      string
		sliceAxis int
		want      int
	}{
		{"axial (k fixed)", 2, 5},
		{"coronal (j fixed)", 1, 3},
		{"sagittal (i fixed)", 0, 3},
	}
	for _, c := range cases {
		m := volume.NewMask(anisotropicGrid([3]int{7, 7, 7}))
		e := newTestEditor(t, DefaultHistoryDepth)
		if err := e.BeginStroke(m, Brush{RadiusMM: 1, SliceAxis: c.sliceAxis, Label: 1}, volume.Vec3{3, 3, 3}); err != nil {
			t.Fatal(err)
		}
		e.EndStroke()
		got := 0
		for k := 0; k < 7; k++ {
			for j := 0; j < 7; j++ {
				for i := 0; i < 7; i++ {
					if m.At(i, j, k) == 0 {
						continue
					}
					got++
					if [3]int{i, j, k}[c.sliceAxis] != 3 {
						t.Errorf("%s: voxel (%d, %d, %d) painted outside slice 3", c.name, i, j, k)
					}
				}
			}
		}
		if got != c.want {
			t.Errorf("%s: %d voxels painted, want %d", c.name, got, c.want)
		}
	}
}

func TestTinyBrushPaintsNearestVoxel(t *testing.T) {
	m := volume.NewMask(anisotropicGrid([3]int{5, 5, 3}))
	e := newTestEditor(t, DefaultHistoryDepth)
	if err := e.BeginStroke(m, Brush{RadiusMM: 0.1, SliceAxis: 2, Label: 1}, volume.Vec3{2.4, 1.6, 1}); err != nil {
		t.Fatal(err)
	}
	e.EndStroke()
	if m.At(2, 2, 1) != 1 {
		t.Error("a 0.1 mm brush at (2.4, 1.6) did not paint voxel (2, 2)")
	}
	if n := e.History.Steps()[0].ChangedVoxels(); n != 1 {
		t.Errorf("a 0.1 mm brush changed %d voxels, want 1", n)
	}
}

func TestStrokeWithoutChangeAddsNoStep(t *testing.T) {
	m := volume.NewMask(anisotropicGrid([3]int{5, 5, 3}))
	e := newTestEditor(t, DefaultHistoryDepth)
	if err := e.BeginStroke(m, Brush{RadiusMM: 2, SliceAxis: 2}, volume.Vec3{2, 2, 1}); err != nil {
		t.Fatal(err)
	}
	if e.EndStroke() {
		t.Error("an eraser stroke on an empty mask recorded a step")
	}
	if n, err := e.Fill(m, [3]int{0, 0, 0}, FillOptions{SliceAxis: 2, Connectivity: Fill4}); err != nil || n != 0 {
		t.Errorf("fill of background with label 0 returned %d, %v, want 0, nil", n, err)
	}
	if got := e.History.UndoLabels(); len(got) != 0 {
		t.Errorf("undo labels %q, want none", got)
	}
}

func TestCancelStrokeRestoresMask(t *testing.T) {
	m := volume.NewMask(anisotropicGrid([3]int{9, 9, 3}))
	m.Labels[m.Offset(4, 4, 1)] = 7
	before := slices.Clone(m.Labels)
	e := newTestEditor(t, DefaultHistoryDepth)
	if err := e.BeginStroke(m, Brush{RadiusMM: 2, SliceAxis: 2, Label: 1}, volume.Vec3{3, 4, 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.StrokeTo(volume.Vec3{6, 6, 1}); err != nil {
		t.Fatal(err)
	}
	e.CancelStroke()
	if !slices.Equal(m.Labels, before) {
		t.Error("CancelStroke left painted voxels in the mask")
	}
	if e.StrokeInProgress() || len(e.History.UndoLabels()) != 0 {
		t.Errorf("after CancelStroke: in progress %v, undo labels %q, want false and none", e.StrokeInProgress(), e.History.UndoLabels())
	}
}

func TestFillConnectivityAndLimit(t *testing.T) {
	// A diamond |x-4|+|y-4| = 3 of label 1: its inside (13 pixels) is closed under
	// 4-connectivity, but 8-connectivity leaks through the diagonal steps to the whole
	// outside (56 pixels), 69 in all.
	newDiamond := func() *volume.Mask {
		m := volume.NewMask(anisotropicGrid([3]int{9, 9, 3}))
		for y := 0; y < 9; y++ {
			for x := 0; x < 9; x++ {
				if abs(x-4)+abs(y-4) == 3 {
					m.Labels[m.Offset(x, y, 1)] = 1
				}
			}
		}
		return m
	}
	cases := []struct {
		name       string
		conn       FillConnectivity
		maxAreaMM2 float64
		want       int
		wantErr    error
	}{
		{"4-connected inside", Fill4, 0, 13, nil},
		{"8-connected leaks out", Fill8, math.Inf(1), 69, nil},
		{"8-connected over 20 mm²", Fill8, 20, 0, ErrFillTooLarge},
		{"4-connected under 8.4 mm² limit", Fill4, 8.4, 13, nil},
	}
	for _, c := range cases {
		m := newDiamond()
		before := slices.Clone(m.Labels)
		e := newTestEditor(t, DefaultHistoryDepth)
		n, err := e.Fill(m, [3]int{4, 4, 1}, FillOptions{SliceAxis: 2, Connectivity: c.conn, Label: 2, MaxAreaMM2: c.maxAreaMM2})
		if !errors.Is(err, c.wantErr) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.wantErr)
		}
		if n != c.want {
			t.Errorf("%s: changed %d voxels, want %d", c.name, n, c.want)
		}
		if c.wantErr != nil && !slices.Equal(m.Labels, before) {
			t.Errorf("%s: a rejected fill changed the mask", c.name)
		}
		if n > 0 && countOutsideSlice(m, 1) != 0 {
			t.Errorf("%s: fill reached other slices", c.name)
		}
	}
}

func TestFillInEachPlane(t *testing.T) {
	// A wall of label 1 at i = 2 splits every slice that contains the i axis. A fill at
	// (0, 1, 1) covers i < 2 of its plane: in the coronal plane (j fixed) 2×4 voxels of
	// i×k, in the axial plane (k fixed) 2×3 voxels of i×j. In the sagittal plane (i = 0
	// fixed) the wall is absent, so it covers the whole 3×4 j×k slice.
	cases := []struct {
		name      string
		sliceAxis int
		want      int
	}{
		{"sagittal (i fixed)", 0, 12},
		{"coronal (j fixed)", 1, 8},
		{"axial (k fixed)", 2, 6},
	}
	for _, c := range cases {
		m := volume.NewMask(anisotropicGrid([3]int{5, 3, 4}))
		for k := 0; k < 4; k++ {
			for j := 0; j < 3; j++ {
				m.Labels[m.Offset(2, j, k)] = 1
			}
		}
		e := newTestEditor(t, DefaultHistoryDepth)
		n, err := e.Fill(m, [3]int{0, 1, 1}, FillOptions{SliceAxis: c.sliceAxis, Connectivity: Fill4, Label: 5, MaxAreaMM2: math.Inf(1)})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n != c.want {
			t.Errorf("%s: changed %d voxels, want %d", c.name, n, c.want)
		}
		for k := 0; k < 4; k++ {
			for j := 0; j < 3; j++ {
				for i := 0; i < 5; i++ {
					index := [3]int{i, j, k}
					inPlane := index[c.sliceAxis] == [3]int{0, 1, 1}[c.sliceAxis]
					want := uint8(0)
					switch {
					case i == 2:
						want = 1
					case inPlane && i < 2:
						want = 5
					}
					if got := m.At(i, j, k); got != want {
						t.Errorf("%s: voxel (%d, %d, %d) = %d, want %d", c.name, i, j, k, got, want)
					}
				}
			}
		}
	}
}

func TestDeleteComponent26Connected(t *testing.T) {
	m := volume.NewMask(anisotropicGrid([3]int{6, 6, 4}))
	// Two voxels that share only a corner form one component, even with different labels.
	m.Labels[m.Offset(1, 1, 1)] = 1
	m.Labels[m.Offset(2, 2, 2)] = 2
	m.Labels[m.Offset(4, 4, 1)] = 1 // a separate component
	e := newTestEditor(t, DefaultHistoryDepth)

	n, err := e.DeleteComponent(m, [3]int{2, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 || m.At(1, 1, 1) != 0 || m.At(2, 2, 2) != 0 || m.At(4, 4, 1) != 1 {
		t.Errorf("after delete: changed %d, labels %d %d %d, want 2 and 0 0 1", n, m.At(1, 1, 1), m.At(2, 2, 2), m.At(4, 4, 1))
	}
	if _, err := e.DeleteComponent(m, [3]int{0, 0, 0}); !errors.Is(err, ErrNoComponent) {
		t.Errorf("delete at background: error %v, want ErrNoComponent", err)
	}
	if label, _ := e.Undo(); label != "Delete component" {
		t.Errorf("undo label %q, want Delete component", label)
	}
	if m.At(1, 1, 1) != 1 || m.At(2, 2, 2) != 2 {
		t.Errorf("after undo: labels %d %d, want 1 2", m.At(1, 1, 1), m.At(2, 2, 2))
	}
}

func TestHistoryDepthDropsOldest(t *testing.T) {
	const depth = 50
	m := volume.NewMask(anisotropicGrid([3]int{60, 4, 2}))
	e := newTestEditor(t, depth)

	// 60 one-voxel strokes at i = 0..59; only the last 50 can be undone.
	for i := 0; i < 60; i++ {
		if err := e.BeginStroke(m, Brush{RadiusMM: 0.1, SliceAxis: 2, Label: 1}, volume.Vec3{float64(i), 1, 0}); err != nil {
			t.Fatal(err)
		}
		e.EndStroke()
	}
	if got := len(e.History.UndoLabels()); got != depth {
		t.Fatalf("history keeps %d steps, want %d", got, depth)
	}
	for n := 0; n < depth; n++ {
		if _, ok := e.Undo(); !ok {
			t.Fatalf("undo %d of %d failed", n+1, depth)
		}
	}
	if _, ok := e.Undo(); ok {
		t.Error("undo beyond the history depth succeeded")
	}
	for i := 0; i < 60; i++ {
		want := uint8(0)
		if i < 60-depth {
			want = 1
		}
		if got := m.At(i, 1, 0); got != want {
			t.Errorf("voxel i=%d is %d after undoing %d steps, want %d", i, got, depth, want)
		}
	}
}

// TestUndoRedoRandomEdits replays random strokes, fills and replacements and checks that
// undoing all of them restores every earlier state exactly, and redoing all of them
// restores the final state.
func TestUndoRedoRandomEdits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := volume.NewMask(anisotropicGrid([3]int{17, 13, 6}))
	e := newTestEditor(t, DefaultHistoryDepth)
	states := [][]uint8{slices.Clone(m.Labels)}
	randomPosition := func() volume.Vec3 {
		return volume.Vec3{rng.Float64()*20 - 1, rng.Float64()*16 - 1, rng.Float64() * 5}
	}

	for len(states) < 40 {
		switch rng.IntN(3) {
		case 0:
			b := Brush{RadiusMM: 0.3 + 4*rng.Float64(), Shape: Shape(rng.IntN(2)), SliceAxis: rng.IntN(3), Label: uint8(rng.IntN(4))}
			if err := e.BeginStroke(m, b, volume.Vec3{float64(rng.IntN(17)), float64(rng.IntN(13)), float64(rng.IntN(6))}); err != nil {
				t.Fatal(err)
			}
			for n := rng.IntN(4); n > 0; n-- {
				if err := e.StrokeTo(randomPosition()); err != nil {
					t.Fatal(err)
				}
			}
			if !e.EndStroke() {
				continue
			}
		case 1:
			opt := FillOptions{SliceAxis: rng.IntN(3), Connectivity: FillConnectivity(4 + 4*rng.IntN(2)), Label: uint8(rng.IntN(4)), MaxAreaMM2: math.Inf(1)}
			n, err := e.Fill(m, [3]int{rng.IntN(17), rng.IntN(13), rng.IntN(6)}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				continue
			}
		default:
			next := slices.Clone(m.Labels)
			for n := range next {
				if rng.IntN(10) == 0 {
					next[n] = uint8(rng.IntN(3))
				}
			}
			n, err := e.Replace("Re-run fusion", m, next)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				continue
			}
		}
		states = append(states, slices.Clone(m.Labels))
	}

	for n := len(states) - 2; n >= 0; n-- {
		if _, ok := e.Undo(); !ok {
			t.Fatalf("undo to state %d failed", n)
		}
		if !slices.Equal(m.Labels, states[n]) {
			t.Fatalf("undo to state %d gave a different mask", n)
		}
	}
	for n := 1; n < len(states); n++ {
		e.Redo()
	}
	if !slices.Equal(m.Labels, states[len(states)-1]) {
		t.Error("redo of every step did not restore the final mask")
	}
}

// strokeMaxBytes bounds the diff of one 5 mm brush stroke 100 mm long.
const strokeMaxBytes = 4 << 10

// TestStrokeStepMemory checks that a 5 mm radius stroke 100 mm long on a 512×512×300
// grid (a 75 MiB mask) stores a diff under 4 KiB, in each slice plane. The sagittal stroke has no two changed
// voxels adjacent in memory, which is the worst case for the run-length encoding.
func TestStrokeStepMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a 75 MiB mask")
	}
	g := anisotropicGrid([3]int{512, 512, 300})
	m := volume.NewMask(g)
	e := newTestEditor(t, DefaultHistoryDepth)

	for axis := 0; axis < 3; axis++ {
		// A diagonal drag across the two in-plane axes, 100 mm long, in steps of 2 voxels.
		u, v := inPlaneAxes(axis)
		steps := 50
		var at volume.Vec3
		at[axis] = 150
		at[u], at[v] = 100, 100
		du := 100 / math.Sqrt2 / g.SpacingMM[u] / float64(steps)
		dv := 100 / math.Sqrt2 / g.SpacingMM[v] / float64(steps)
		if err := e.BeginStroke(m, Brush{RadiusMM: 5, SliceAxis: axis, Label: 1}, at); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < steps; n++ {
			at[u] += du
			at[v] += dv
			if err := e.StrokeTo(at); err != nil {
				t.Fatal(err)
			}
		}
		e.EndStroke()

		recorded := e.History.Steps()
		s := recorded[len(recorded)-1]
		t.Logf("slice axis %d: %d voxels changed, %d bytes stored (%.2f bytes per voxel)", axis, s.ChangedVoxels(), s.SizeBytes(), float64(s.SizeBytes())/float64(s.ChangedVoxels()))
		if s.SizeBytes() > strokeMaxBytes {
			t.Errorf("slice axis %d: the stroke stores %d bytes, want at most %d", axis, s.SizeBytes(), strokeMaxBytes)
		}
		if s.ChangedVoxels() < 400 {
			t.Errorf("slice axis %d: the stroke changed only %d voxels, want a stroke of at least 400", axis, s.ChangedVoxels())
		}
	}
}

func TestReplaceAllIsOneStep(t *testing.T) {
	g := anisotropicGrid([3]int{3, 2, 2})
	tumor := volume.NewMask(g)
	protrusion := volume.NewMask(g)
	tumor.Labels[0] = 1
	protrusion.Labels[11] = 1
	e := newTestEditor(t, DefaultHistoryDepth)

	newTumor := make([]uint8, 12)
	newTumor[4], newTumor[5] = 1, 1
	newProtrusion := make([]uint8, 12)
	newProtrusion[11] = 1
	n, err := e.ReplaceAll("Re-run fusion", []Replacement{{tumor, newTumor}, {protrusion, newProtrusion}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("ReplaceAll changed %d voxels, want 3", n)
	}
	if !slices.Equal(tumor.Labels, newTumor) || !slices.Equal(protrusion.Labels, newProtrusion) {
		t.Errorf("after ReplaceAll: tumor %v protrusion %v, want %v %v", tumor.Labels, protrusion.Labels, newTumor, newProtrusion)
	}
	if got := e.History.UndoLabels(); !slices.Equal(got, []string{"Re-run fusion"}) {
		t.Errorf("undo labels %q, want [Re-run fusion]", got)
	}

	e.Undo()
	if tumor.Labels[0] != 1 || tumor.Labels[4] != 0 || tumor.Labels[5] != 0 {
		t.Errorf("after undo: tumor %v, want only voxel 0 set", tumor.Labels)
	}
	if _, err := e.ReplaceAll("Twice", []Replacement{{tumor, newTumor}, {tumor, newTumor}}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("ReplaceAll of one mask twice: error %v, want one saying it appears twice", err)
	}
	if tumor.Labels[4] != 0 {
		t.Error("a rejected ReplaceAll changed the mask")
	}
}

func TestEditorRejectsInvalidInput(t *testing.T) {
	g := anisotropicGrid([3]int{5, 5, 3})
	m := volume.NewMask(g)
	broken := &volume.Mask{Grid: g, Labels: make([]uint8, 10)}
	e := newTestEditor(t, DefaultHistoryDepth)
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"zero radius", func() error { return e.BeginStroke(m, Brush{SliceAxis: 2}, volume.Vec3{}) }, "radius 0 mm"},
		{"NaN radius", func() error { return e.BeginStroke(m, Brush{RadiusMM: math.NaN()}, volume.Vec3{}) }, "radius NaN mm"},
		{"slice axis 3", func() error { return e.BeginStroke(m, Brush{RadiusMM: 1, SliceAxis: 3}, volume.Vec3{}) }, "slice axis 3"},
		{"NaN cursor", func() error { return e.BeginStroke(m, Brush{RadiusMM: 1}, volume.Vec3{math.NaN(), 0, 0}) }, "cursor index"},
		{"disc off the slices", func() error { return e.BeginStroke(m, Brush{RadiusMM: 1, SliceAxis: 2}, volume.Vec3{0, 0, 3}) }, "outside the 3 slices"},
		{"short label slice", func() error { return e.BeginStroke(broken, Brush{RadiusMM: 1}, volume.Vec3{}) }, "10 labels, want 75"},
		{"nil mask", func() error { _, err := e.Fill(nil, [3]int{}, FillOptions{Connectivity: Fill4}); return err }, "no mask"},
		{"fill connectivity 6", func() error { _, err := e.Fill(m, [3]int{}, FillOptions{Connectivity: 6}); return err }, "connectivity 6"},
		{"fill seed outside", func() error { _, err := e.Fill(m, [3]int{5, 0, 0}, FillOptions{Connectivity: Fill4}); return err }, "seed [5 0 0]"},
		{"negative fill limit", func() error {
			_, err := e.Fill(m, [3]int{}, FillOptions{Connectivity: Fill4, Label: 1, MaxAreaMM2: -1})
			return err
		}, "area limit -1"},
		{"replace length", func() error { _, err := e.Replace("Re-run fusion", m, make([]uint8, 3)); return err }, "3 new labels, want 75"},
		{"stroke without begin", func() error { return e.StrokeTo(volume.Vec3{}) }, "no stroke in progress"},
		{"delete outside", func() error { _, err := e.DeleteComponent(m, [3]int{-1, 0, 0}); return err }, "outside the mask"},
	}
	for _, c := range cases {
		err := c.run()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := NewHistory(0); err == nil {
		t.Error("NewHistory(0) returned no error")
	}
}

func TestNearestAxis(t *testing.T) {
	// An oblique grid whose i axis points mostly superior and k mostly left.
	g := anisotropicGrid([3]int{2, 2, 2})
	c, s := math.Cos(0.3), math.Sin(0.3)
	g.AxesLPS = [3]volume.Vec3{{s, 0, c}, {0, 1, 0}, {c, 0, -s}}
	cases := []struct {
		name      string
		direction volume.Vec3
		want      int
	}{
		{"axial normal S", volume.Vec3{0, 0, 1}, 0},
		{"coronal normal P", volume.Vec3{0, 1, 0}, 1},
		{"sagittal normal L", volume.Vec3{1, 0, 0}, 2},
		{"sagittal normal R", volume.Vec3{-1, 0, 0}, 2},
	}
	for _, tc := range cases {
		if got := NearestAxis(g, tc.direction); got != tc.want {
			t.Errorf("%s: axis %d, want %d", tc.name, got, tc.want)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestMaskVersionTracksChanges(t *testing.T) {
	a := volume.NewMask(anisotropicGrid([3]int{6, 4, 2}))
	b := volume.NewMask(anisotropicGrid([3]int{6, 4, 2}))
	e := newTestEditor(t, DefaultHistoryDepth)
	h := e.History
	if v := h.MaskVersion(a); v != 0 {
		t.Fatalf("version of an unedited mask is %d, want 0", v)
	}

	if err := e.BeginStroke(a, Brush{RadiusMM: 0.1, SliceAxis: 2, Label: 1}, volume.Vec3{1, 1, 0}); err != nil {
		t.Fatal(err)
	}
	e.EndStroke()
	afterStroke := h.MaskVersion(a)
	if afterStroke == 0 {
		t.Error("version of a after a stroke is 0, want a new version")
	}
	if v := h.MaskVersion(b); v != 0 {
		t.Errorf("version of b, which no step changed, is %d, want 0", v)
	}

	seen := map[uint64]string{0: "unedited", afterStroke: "stroke"}
	for _, action := range []struct {
		name string
		do   func() (string, bool)
	}{{"undo", e.Undo}, {"redo", e.Redo}} {
		if _, ok := action.do(); !ok {
			t.Fatalf("%s failed", action.name)
		}
		v := h.MaskVersion(a)
		if earlier, ok := seen[v]; ok {
			t.Errorf("version after %s is %d, the same as after %s", action.name, v, earlier)
		}
		seen[v] = action.name
	}

	last := h.MaskVersion(a)
	h.Clear()
	if v := h.MaskVersion(a); v != 0 {
		t.Errorf("version after Clear is %d, want 0", v)
	}
	if err := e.BeginStroke(a, Brush{RadiusMM: 0.1, SliceAxis: 2, Label: 1}, volume.Vec3{3, 1, 0}); err != nil {
		t.Fatal(err)
	}
	e.EndStroke()
	if v := h.MaskVersion(a); v <= last {
		t.Errorf("version after Clear and a stroke is %d, want above %d, the version before Clear", v, last)
	}
}
