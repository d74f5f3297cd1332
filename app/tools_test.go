package main

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"protrude/lesions"
	"protrude/viewer"
	"protrude/volume"
)

// newEditTestUI opens a 12×10×6 phantom with 1 mm voxels and identity axes in a headless
// window, so that the axial view's slices run along k.
func newEditTestUI(t *testing.T) *viewerUI {
	t.Helper()
	a := test.NewApp()
	t.Cleanup(a.Quit)
	ct := volume.NewVolume(volume.Grid{
		Size:      [3]int{12, 10, 6},
		SpacingMM: volume.Vec3{1, 1, 1},
		AxesLPS:   volume.IdentityAxesLPS,
	})
	for n := range ct.Voxels {
		ct.Voxels[n] = 40
	}
	ui := newViewerUI(a, modelFlags{})
	ui.showStudy(&study{Path: "phantom", CT: ct})
	return ui
}

// sendPointer drives the axial view's OnPointer, as a mouse press, drag or release there
// does.
func sendPointer(t *testing.T, ui *viewerUI, kind viewer.PointerKind, idx [3]int, mod fyne.KeyModifier) {
	t.Helper()
	v := ui.views.View(viewer.Axial)
	if v.OnPointer == nil {
		t.Fatal("the axial view has no OnPointer tool callback")
	}
	v.OnPointer(viewer.PointerEvent{Kind: kind, View: viewer.Axial, Modifier: mod, Inside: true, Index: idx})
}

// labelledVoxels returns the set of voxels of m with a non-zero label.
func labelledVoxels(m *volume.Mask) map[[3]int]bool {
	set := map[[3]int]bool{}
	if m == nil {
		return set
	}
	for k := 0; k < m.Size[2]; k++ {
		for j := 0; j < m.Size[1]; j++ {
			for i := 0; i < m.Size[0]; i++ {
				if m.At(i, j, k) != 0 {
					set[[3]int{i, j, k}] = true
				}
			}
		}
	}
	return set
}

func checkVoxels(t *testing.T, step string, m *volume.Mask, want map[[3]int]bool) {
	t.Helper()
	got := labelledVoxels(m)
	for v := range want {
		if !got[v] {
			t.Errorf("%s: voxel %v is background, want labelled", step, v)
		}
	}
	for v := range got {
		if !want[v] {
			t.Errorf("%s: voxel %v is labelled, want background", step, v)
		}
	}
}

func voxelSet(voxels ...[3]int) map[[3]int]bool {
	set := map[[3]int]bool{}
	for _, v := range voxels {
		set[v] = true
	}
	return set
}

func TestEditToolsBrushEraserFillUndoRedo(t *testing.T) {
	ui := newEditTestUI(t)
	if ui.tools.activeLayer != tumorLayer {
		t.Fatalf("active layer %d at start, want the tumor layer %d", ui.tools.activeLayer, tumorLayer)
	}

	// Brush, disc radius 1 mm: a click paints the voxel and its four in-plane
	// neighbours at exactly 1 mm, in axial slice k = 3 only.
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyB})
	ui.setBrushRadius(1)
	sendPointer(t, ui, viewer.PointerDown, [3]int{2, 4, 3}, 0)
	sendPointer(t, ui, viewer.PointerUp, [3]int{2, 4, 3}, 0)
	mask := ui.layers[tumorLayer].Mask
	if mask == nil {
		t.Fatal("the brush left the tumor layer without a mask")
	}
	dot := voxelSet([3]int{2, 4, 3}, [3]int{1, 4, 3}, [3]int{3, 4, 3}, [3]int{2, 3, 3}, [3]int{2, 5, 3})
	checkVoxels(t, "brush click", mask, dot)

	// A drag along i from (6, 4) to (8, 4) paints a 3-voxel-wide band with round ends,
	// one voxel apart from the dot.
	sendPointer(t, ui, viewer.PointerDown, [3]int{6, 4, 3}, 0)
	sendPointer(t, ui, viewer.PointerDrag, [3]int{8, 4, 3}, 0)
	sendPointer(t, ui, viewer.PointerUp, [3]int{8, 4, 3}, 0)
	band := voxelSet([3]int{5, 4, 3}, [3]int{9, 4, 3})
	for i := 6; i <= 8; i++ {
		for j := 3; j <= 5; j++ {
			band[[3]int{i, j, 3}] = true
		}
	}
	afterBrush := voxelSet()
	for v := range dot {
		afterBrush[v] = true
	}
	for v := range band {
		afterBrush[v] = true
	}
	checkVoxels(t, "brush drag", mask, afterBrush)
	if n := ui.lesionRowCount(); n != 2 {
		t.Errorf("lesion list has %d rows after two separate strokes, want 2", n)
	}

	// Eraser, radius 0.5 mm: only the voxel under the pointer.
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyE})
	ui.setBrushRadius(0.5)
	sendPointer(t, ui, viewer.PointerDown, [3]int{2, 4, 3}, 0)
	sendPointer(t, ui, viewer.PointerUp, [3]int{2, 4, 3}, 0)
	afterErase := voxelSet()
	for v := range afterBrush {
		afterErase[v] = true
	}
	delete(afterErase, [3]int{2, 4, 3})
	checkVoxels(t, "eraser", mask, afterErase)

	// Fill the erased hole: a 4-connected region of one background voxel.
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyF})
	sendPointer(t, ui, viewer.PointerDown, [3]int{2, 4, 3}, 0)
	sendPointer(t, ui, viewer.PointerUp, [3]int{2, 4, 3}, 0)
	checkVoxels(t, "fill", mask, afterBrush)
	if got, want := ui.tools.undoItem.Label, "Undo Tumor: Fill (Ctrl+Z)"; got != want {
		t.Errorf("Edit menu undo item %q after the fill, want %q", got, want)
	}

	// Undo the fill, then the eraser; redo both.
	ui.undo()
	checkVoxels(t, "undo fill", mask, afterErase)
	ui.undo()
	checkVoxels(t, "undo eraser", mask, afterBrush)
	if got, want := ui.tools.redoItem.Label, "Redo Tumor: Erase radius 0.5 mm (Ctrl+Y)"; got != want {
		t.Errorf("Edit menu redo item %q, want %q", got, want)
	}
	ui.redo()
	checkVoxels(t, "redo eraser", mask, afterErase)
	ui.redo()
	checkVoxels(t, "redo fill", mask, afterBrush)
	if !ui.tools.redoItem.Disabled {
		t.Errorf("Edit menu redo item %q is enabled with nothing to redo", ui.tools.redoItem.Label)
	}

	// Delete component removes the band and leaves the dot.
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyD})
	sendPointer(t, ui, viewer.PointerDown, [3]int{7, 4, 3}, 0)
	sendPointer(t, ui, viewer.PointerUp, [3]int{7, 4, 3}, 0)
	checkVoxels(t, "delete component", mask, dot)
	if n := ui.lesionRowCount(); n != 1 {
		t.Errorf("lesion list has %d rows after deleting one of two lesions, want 1", n)
	}
	ui.undo()
	checkVoxels(t, "undo delete component", mask, afterBrush)
	if n := ui.lesionRowCount(); n != 2 {
		t.Errorf("lesion list has %d rows after undoing the deletion, want 2", n)
	}
}

func TestEditToolsSphereAndRadiusKeys(t *testing.T) {
	ui := newEditTestUI(t)
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyB})
	ui.setBrushRadius(1.5)
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyLeftBracket})
	if ui.tools.radiusMM != 1 {
		t.Fatalf("radius %.2f mm after [ from 1.5 mm, want 1", ui.tools.radiusMM)
	}
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyS})
	if !ui.tools.sphere || !ui.tools.sphereCheck.Checked {
		t.Fatalf("S left the brush a disc (sphere %v, checkbox %v)", ui.tools.sphere, ui.tools.sphereCheck.Checked)
	}

	// A 1 mm sphere paints the voxel and its six face neighbours, across three slices.
	c := [3]int{5, 5, 2}
	sendPointer(t, ui, viewer.PointerDown, c, 0)
	sendPointer(t, ui, viewer.PointerUp, c, 0)
	checkVoxels(t, "sphere click", ui.layers[tumorLayer].Mask, voxelSet(c,
		[3]int{4, 5, 2}, [3]int{6, 5, 2}, [3]int{5, 4, 2}, [3]int{5, 6, 2}, [3]int{5, 5, 1}, [3]int{5, 5, 3}))
}

func TestEditToolsCtrlClickSelectsTopmostLayer(t *testing.T) {
	ui := newEditTestUI(t)
	kidney := volume.NewMask(ui.study.CT.Grid)
	kidney.Labels[kidney.Offset(2, 2, 1)] = 1
	ui.layers[0].Mask = kidney
	ui.views.SetLayers(ui.layers)

	sendPointer(t, ui, viewer.PointerDown, [3]int{2, 2, 1}, fyne.KeyModifierControl)
	if ui.tools.activeLayer != 0 {
		t.Errorf("active layer %d after Ctrl-click on a kidney voxel, want 0", ui.tools.activeLayer)
	}
	if want := ui.layerNames()[0]; ui.tools.layerSel.Selected != want {
		t.Errorf("layer selector shows %q, want %q", ui.tools.layerSel.Selected, want)
	}
	// Ctrl-click on background keeps the active layer.
	sendPointer(t, ui, viewer.PointerDown, [3]int{8, 8, 1}, fyne.KeyModifierControl)
	if ui.tools.activeLayer != 0 {
		t.Errorf("active layer %d after Ctrl-click on background, want 0 kept", ui.tools.activeLayer)
	}
}

func TestLesionListAcceptAndFollowEdits(t *testing.T) {
	ui := newEditTestUI(t)
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyB})
	ui.setBrushRadius(0.5)
	for _, idx := range [][3]int{{2, 2, 1}, {9, 7, 4}} {
		sendPointer(t, ui, viewer.PointerDown, idx, 0)
		sendPointer(t, ui, viewer.PointerUp, idx, 0)
	}
	if n := ui.lesionRowCount(); n != 2 {
		t.Fatalf("lesion list has %d rows, want 2", n)
	}

	ui.selectLesion(1)
	if got, want := ui.views.Cursor(), [3]int{9, 7, 4}; got != want {
		t.Errorf("cursor %v after selecting the second lesion, want %v", got, want)
	}
	if got, want := ui.lesionCell(1, 4), "5–5"; got != want {
		t.Errorf("axial slices of the second lesion %q, want %q", got, want)
	}
	test.Tap(ui.lesionList.accept)
	if got := ui.lesionList.table.Lesions[1].Status; got != lesions.Accepted {
		t.Errorf("status %q after Accept, want %q", got, lesions.Accepted)
	}

	// Growing the accepted lesion makes it Edited.
	ui.setBrushRadius(1)
	sendPointer(t, ui, viewer.PointerDown, [3]int{9, 7, 4}, 0)
	sendPointer(t, ui, viewer.PointerUp, [3]int{9, 7, 4}, 0)
	if got := ui.lesionList.table.Lesions[1].Status; got != lesions.Edited {
		t.Errorf("status %q after a stroke grew the lesion, want %q", got, lesions.Edited)
	}
	if got, want := ui.lesionCell(1, 1), "0.01"; got != want {
		t.Errorf("volume %q mL after growing to 5 voxels of 1 mm³, want %q", got, want)
	}
}

func TestEditShortcutsUndoRedo(t *testing.T) {
	ui := newEditTestUI(t)
	canvas, ok := ui.win.Canvas().(fyne.Shortcutable)
	if !ok {
		t.Fatalf("the test window's canvas %T takes no shortcuts", ui.win.Canvas())
	}
	// The desktop driver turns Ctrl+Z and Ctrl+Y into fyne.ShortcutUndo and
	// fyne.ShortcutRedo (fyne's internal/driver/glfw triggersShortcut), and any other
	// Ctrl combination into a desktop.CustomShortcut. press sends them the same way.
	press := func(key fyne.KeyName, mod fyne.KeyModifier) {
		switch {
		case key == fyne.KeyZ && mod == fyne.KeyModifierControl:
			canvas.TypedShortcut(&fyne.ShortcutUndo{})
		case key == fyne.KeyY && mod == fyne.KeyModifierControl:
			canvas.TypedShortcut(&fyne.ShortcutRedo{})
		default:
			canvas.TypedShortcut(&desktop.CustomShortcut{KeyName: key, Modifier: mod})
		}
	}
	ui.typedKey(&fyne.KeyEvent{Name: fyne.KeyB})
	ui.setBrushRadius(0.5)
	c := [3]int{4, 4, 2}
	sendPointer(t, ui, viewer.PointerDown, c, 0)
	sendPointer(t, ui, viewer.PointerUp, c, 0)
	mask := ui.layers[tumorLayer].Mask

	press(fyne.KeyZ, fyne.KeyModifierControl)
	checkVoxels(t, "Ctrl+Z", mask, voxelSet())
	press(fyne.KeyY, fyne.KeyModifierControl)
	checkVoxels(t, "Ctrl+Y", mask, voxelSet(c))
	press(fyne.KeyZ, fyne.KeyModifierControl)
	checkVoxels(t, "Ctrl+Z again", mask, voxelSet())
	press(fyne.KeyZ, fyne.KeyModifierControl|fyne.KeyModifierShift)
	checkVoxels(t, "Ctrl+Shift+Z", mask, voxelSet(c))
}
