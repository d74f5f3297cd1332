package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"protrude/lesions"
	"protrude/metrics"
	"protrude/overlays"
	"protrude/seg"
	"protrude/viewer"
	"protrude/volume"
	"protrude/volume/nifti"
)

// sessionTestGrid is a small grid with identity axes, with anisotropic voxels and an origin
// away from zero, so that a lost origin or spacing shows.
var sessionTestGrid = volume.Grid{
	Size:      [3]int{12, 10, 6},
	SpacingMM: volume.Vec3{0.8, 0.9, 2.5},
	OriginLPS: volume.Vec3{-40, 25, 110},
	AxesLPS:   volume.IdentityAxesLPS,
}

// writeTestScan writes a CT on sessionTestGrid as NIfTI into dir and returns its path.
func writeTestScan(t *testing.T, dir string) string {
	t.Helper()
	ct := volume.NewVolume(sessionTestGrid)
	for n := range ct.Voxels {
		ct.Voxels[n] = float32(n%50 - 10)
	}
	path := filepath.Join(dir, "scan.nii.gz")
	if err := nifti.WriteVolume(path, ct, nifti.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// newSessionTestUI opens the NIfTI scan at path in a headless window.
func newSessionTestUI(t *testing.T, path string) *viewerUI {
	t.Helper()
	a := test.NewApp()
	t.Cleanup(a.Quit)
	ui := newViewerUI(a, modelFlags{})
	ui.win.Resize(fyne.NewSize(1200, 860))
	st, err := loadStudy(path)
	if err != nil {
		t.Fatal(err)
	}
	ui.showStudy(st)
	return ui
}

// paintStroke paints one brush click of radius 1 mm at idx on the active layer.
func paintStroke(t *testing.T, ui *viewerUI, idx [3]int) {
	t.Helper()
	ui.setTool(toolBrush)
	ui.setBrushRadius(1)
	sendPointer(t, ui, viewer.PointerDown, idx, 0)
	sendPointer(t, ui, viewer.PointerUp, idx, 0)
}

// editedTestSession opens a scan, gives it a kidney mask, paints two tumor lesions,
// accepts one and changes every view setting away from its default.
func editedTestSession(t *testing.T, dir string) *viewerUI {
	t.Helper()
	ui := newSessionTestUI(t, writeTestScan(t, dir))
	kidney := volume.NewMask(sessionTestGrid)
	for n := 0; n < len(kidney.Labels); n += 7 {
		kidney.Labels[n] = 1
	}
	ui.showMasks(map[string]*volume.Mask{overlays.KidneyName: kidney}, "kidney.nii.gz")
	ui.bundleID = "test-bundle-1"

	paintStroke(t, ui, [3]int{2, 4, 3})
	paintStroke(t, ui, [3]int{8, 5, 1})
	if n := ui.lesionRowCount(); n != 2 {
		t.Fatalf("lesion list has %d rows after two strokes, want 2", n)
	}
	ui.selectLesion(1)
	ui.setLesionStatus(lesions.Accepted)

	ui.layers[0].Visible = false
	ui.layers[1].Opacity = 0.2
	ui.layers[2].Style = overlays.Outline
	ui.setActiveLayer(0)
	ui.views.SetWindow(viewer.WindowLevel{WidthHU: 333, LevelHU: -12})
	ui.views.SetCursor([3]int{7, 3, 4})
	ui.views.View(viewer.Coronal).SetZoomPan(2.5, 14, -9)
	ui.views.Maximize(viewer.Sagittal)
	return ui
}

func TestSessionRoundTrip(t *testing.T) {
	dir := t.TempDir()
	saved := editedTestSession(t, dir)
	snap, err := saved.captureSession(func(int, *volume.Mask) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	sessionDir := filepath.Join(dir, "review.protrude")
	if err := saveSession(sessionDir, snap); err != nil {
		t.Fatal(err)
	}

	ls, err := loadSession(sessionDir)
	if err != nil {
		t.Fatal(err)
	}
	a := test.NewApp()
	t.Cleanup(a.Quit)
	ui := newViewerUI(a, modelFlags{})
	ui.applySession(ls)

	if got, want := ui.study.Path, saved.study.Path; got != want {
		t.Errorf("scan path %q, want %q", got, want)
	}
	if ui.bundleID != "test-bundle-1" {
		t.Errorf("model bundle %q, want %q", ui.bundleID, "test-bundle-1")
	}
	for n, l := range ui.layers {
		s := saved.layers[n]
		if (l.Mask == nil) != (s.Mask == nil) {
			t.Errorf("layer %s has mask %v, want %v", l.Name, l.Mask != nil, s.Mask != nil)
			continue
		}
		if l.Mask != nil {
			checkVoxels(t, "layer "+l.Name, l.Mask, labelledVoxels(s.Mask))
		}
		if l.Visible != s.Visible || l.Opacity != s.Opacity || l.Style != s.Style {
			t.Errorf("layer %s: visible %v, opacity %v, style %v; want %v, %v, %v",
				l.Name, l.Visible, l.Opacity, l.Style, s.Visible, s.Opacity, s.Style)
		}
	}

	got, want := ui.lesionList.table, saved.lesionList.table
	if got == nil || len(got.Lesions) != len(want.Lesions) {
		t.Fatalf("lesion table %+v, want %d lesions", got, len(want.Lesions))
	}
	for n := range want.Lesions {
		if got.Lesions[n].ID != want.Lesions[n].ID || got.Lesions[n].Status != want.Lesions[n].Status {
			t.Errorf("lesion %d: ID %d status %q, want ID %d status %q", n,
				got.Lesions[n].ID, got.Lesions[n].Status, want.Lesions[n].ID, want.Lesions[n].Status)
		}
	}

	if c := ui.views.Cursor(); c != [3]int{7, 3, 4} {
		t.Errorf("cursor %v, want [7 3 4]", c)
	}
	if wl := ui.views.Window(); wl.WidthHU != 333 || wl.LevelHU != -12 {
		t.Errorf("window %v/%v HU, want 333/-12", wl.WidthHU, wl.LevelHU)
	}
	cor := ui.views.View(viewer.Coronal)
	if px, py := cor.PanOffset(); cor.ZoomFactor() != 2.5 || px != 14 || py != -9 {
		t.Errorf("coronal zoom %v pan (%v, %v), want 2.5 (14, -9)", cor.ZoomFactor(), px, py)
	}
	if z := ui.views.View(viewer.Axial).ZoomFactor(); z != 1 {
		t.Errorf("axial zoom %v, want 1", z)
	}
	if o, ok := ui.views.Maximized(); !ok || o != viewer.Sagittal {
		t.Errorf("maximized view %v (%v), want sagittal", o, ok)
	}
	if ui.tools.activeLayer != 0 {
		t.Errorf("active layer %d, want 0 (kidney)", ui.tools.activeLayer)
	}
	if n := len(ui.tools.editor.History.UndoLabels()); n != 0 {
		t.Errorf("undo history has %d steps after opening a session, want 0", n)
	}
}

func TestSessionSavedMasksKeepGrid(t *testing.T) {
	dir := t.TempDir()
	ui := editedTestSession(t, dir)
	snap, err := ui.captureSession(func(int, *volume.Mask) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	sessionDir := filepath.Join(dir, "s")
	if err := saveSession(sessionDir, snap); err != nil {
		t.Fatal(err)
	}
	m, _, err := nifti.ReadMask(filepath.Join(sessionDir, "tumor.nii.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if err := metrics.CheckSameGrid(m.Grid, sessionTestGrid); err != nil {
		t.Errorf("saved tumor mask is not on the scan's grid: %v", err)
	}
	if _, err := os.Stat(filepath.Join(sessionDir, "protrusion.nii.gz")); !os.IsNotExist(err) {
		t.Errorf("protrusion.nii.gz exists for a layer without a mask (stat error %v)", err)
	}
}

// validSessionJSON saves the edited test session into dir and returns session.json
// decoded as a generic JSON object.
func validSessionJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	ui := editedTestSession(t, dir)
	snap, err := ui.captureSession(func(int, *volume.Mask) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if err := saveSession(dir, snap); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, sessionFileName))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestOpenSessionRejectsMalformed(t *testing.T) {
	cases := []struct {
		name string
		edit func(doc map[string]any)
		// want are the parts the error must contain: the field and the value.
		want []string
	}{
		{"wrong format", func(d map[string]any) { d["format"] = "protrude-lesions" }, []string{"format", `"protrude-lesions"`}},
		{"future version", func(d map[string]any) { d["version"] = 7 }, []string{"version 7"}},
		{"unknown field", func(d map[string]any) { d["colour"] = "red" }, []string{`"colour"`}},
		{"unknown source kind", func(d map[string]any) { d["source"].(map[string]any)["kind"] = "png" }, []string{"source.kind", `"png"`}},
		{"missing source path", func(d map[string]any) { d["source"].(map[string]any)["path"] = "" }, []string{"source.path"}},
		{"zero grid size", func(d map[string]any) { d["grid"].(map[string]any)["size"] = []int{12, 0, 6} }, []string{"grid", "axis 1"}},
		{"unknown layer", func(d map[string]any) { layer(d, 0)["name"] = "Liver" }, []string{"layers[0].name", `"Liver"`}},
		{"layer file with a path", func(d map[string]any) { layer(d, 2)["file"] = "../tumor.nii.gz" }, []string{"layers[2].file", `"../tumor.nii.gz"`}},
		{"opacity above 1", func(d map[string]any) { layer(d, 1)["opacity"] = 1.5 }, []string{"layers[1].opacity", "1.5"}},
		{"unknown style", func(d map[string]any) { layer(d, 1)["style"] = "dashed" }, []string{"layers[1].style", `"dashed"`}},
		{"cursor outside grid", func(d map[string]any) { view(d)["cursorIndex"] = []int{3, 10, 0} }, []string{"view.cursorIndex", "[3 10 0]"}},
		{"zero window width", func(d map[string]any) { view(d)["windowWidthHU"] = 0 }, []string{"view.windowWidthHU", "0"}},
		{"zoom too large", func(d map[string]any) {
			view(d)["views"].(map[string]any)["axial"].(map[string]any)["zoom"] = 100
		}, []string{"view.views.axial.zoom", "100"}},
		{"unknown view", func(d map[string]any) { view(d)["maximized"] = "oblique" }, []string{"view.maximized", `"oblique"`}},
		{"unknown active layer", func(d map[string]any) { view(d)["activeLayer"] = "Bone" }, []string{"view.activeLayer", `"Bone"`}},
		{"lesions without tumor file", func(d map[string]any) { layer(d, 2)["file"] = "" }, []string{"lesions", "Tumor layer has no file"}},
		{"missing mask file", func(d map[string]any) { layer(d, 0)["file"] = "kidney.nii.gz"; removeFile(d, "kidney.nii.gz") }, []string{"layers[0]", "kidney.nii.gz"}},
		{"huge window", func(d map[string]any) { view(d)["windowWidthHU"] = 1.7e308 }, []string{"view.windowWidthHU is 1.7e+308"}},
		{"tiny window", func(d map[string]any) { view(d)["windowWidthHU"] = 5e-324 }, []string{"view.windowWidthHU is 5e-324"}},
		{"huge pan", func(d map[string]any) {
			view(d)["views"].(map[string]any)["axial"].(map[string]any)["panX"] = 1e308
		}, []string{"view.views.axial.panX is 1e+308"}},
		{"missing opacity", func(d map[string]any) { delete(layer(d, 1), "opacity") }, []string{"layers[1].opacity is missing"}},
		{"missing view", func(d map[string]any) { delete(d, "view") }, []string{"view is missing"}},
		{"scan changed on the same grid", func(d map[string]any) {
			d["source"].(map[string]any)["voxelFingerprint"] = "sha256-every-257th:00"
		}, []string{"has changed since the session was saved", "sha256-every-257th:00"}},
		{"scan on another grid", func(d map[string]any) {
			d["grid"].(map[string]any)["spacingMM"] = []float64{0.8, 0.9, 3}
		}, []string{"no longer matches the session's grid"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			doc := validSessionJSON(t, dir)
			doc["_dir"] = dir
			c.edit(doc)
			delete(doc, "_dir")
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, sessionFileName)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = loadSession(dir)
			if err == nil {
				t.Fatal("loadSession accepted the session")
			}
			for _, part := range append(c.want, path) {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

func layer(doc map[string]any, n int) map[string]any {
	return doc["layers"].([]any)[n].(map[string]any)
}

func view(doc map[string]any) map[string]any { return doc["view"].(map[string]any) }

// removeFile deletes a file of the session folder whose path the test case stored in
// doc["_dir"].
func removeFile(doc map[string]any, name string) {
	os.Remove(filepath.Join(doc["_dir"].(string), name))
}

func TestOpenMasksChecksGrid(t *testing.T) {
	dir := t.TempDir()
	ui := newSessionTestUI(t, writeTestScan(t, dir))

	tumor := volume.NewMask(sessionTestGrid)
	tumor.Labels[sessionTestGrid.Offset(3, 3, 3)] = 1
	tumorPath := filepath.Join(dir, "tumor.nii.gz")
	if err := nifti.WriteMask(tumorPath, tumor, nifti.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := volume.NewMask(sessionTestGrid)
	labels.Labels[0], labels.Labels[1], labels.Labels[2] = 1, 2, 3
	labelsPath := filepath.Join(dir, "labels.nii.gz")
	if err := nifti.WriteMask(labelsPath, labels, nifti.WriteOptions{Description: seg.LabelMapDescription}); err != nil {
		t.Fatal(err)
	}
	// The same values without Protrude's description, as another tool writes them.
	foreignPath := filepath.Join(dir, "segmentation.nii.gz")
	if err := nifti.WriteMask(foreignPath, labels, nifti.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// A per-layer name on a file with more values than 0 and 1.
	notBinaryPath := filepath.Join(dir, "sub", "tumor.nii.gz")
	if err := os.MkdirAll(filepath.Dir(notBinaryPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := nifti.WriteMask(notBinaryPath, labels, nifti.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	shifted := sessionTestGrid
	shifted.OriginLPS[2] += 5
	otherPath := filepath.Join(dir, "kidney.nii.gz")
	if err := nifti.WriteMask(otherPath, volume.NewMask(shifted), nifti.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	masks, err := readMasksFor(tumorPath, ui.study, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(masks) != 1 || masks[overlays.TumorName] == nil {
		t.Fatalf("tumor.nii.gz gave layers %v, want only %s", keys(masks), overlays.TumorName)
	}
	ui.showMasks(masks, tumorPath)
	checkVoxels(t, "tumor layer", ui.layers[tumorLayer].Mask, voxelSet([3]int{3, 3, 3}))
	if ui.layers[0].Mask != nil {
		t.Error("opening tumor.nii.gz gave the kidney layer a mask")
	}

	masks, err = readMasksFor(labelsPath, ui.study, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The kidney layer is every labelled voxel, because the label map paints the
	// protruded region and the tumor over the kidney.
	if m := masks[overlays.KidneyName]; m == nil || countVoxels(m) != 3 {
		t.Errorf("label map kidney layer has %d voxels, want 3 (labels 1 to 3)", countVoxels(m))
	}
	for label, name := range map[int]string{1: overlays.ProtrusionName, 2: overlays.TumorName} {
		if m := masks[name]; m == nil || countVoxels(m) != 1 || m.Labels[label] == 0 {
			t.Errorf("label map layer %s does not hold exactly voxel %d", name, label)
		}
	}

	// A file that Protrude did not write needs the user's choice: KiTS labels put every
	// labelled voxel into the kidney and label 2 into the tumor.
	_, err = readMasksFor(foreignPath, ui.study, nil)
	var unknown *unknownMaskFileError
	if !errors.As(err, &unknown) || !slices.Equal(unknown.values, []uint8{1, 2, 3}) {
		t.Errorf("label map without Protrude's descrip: error %v, want an unknownMaskFileError with the values [1 2 3]", err)
	}
	masks, err = readMasksFor(foreignPath, ui.study, &maskChoice{reading: readAsKiTSLabelMap})
	if err != nil {
		t.Fatal(err)
	}
	if countVoxels(masks[overlays.KidneyName]) != 3 || countVoxels(masks[overlays.TumorName]) != 1 || masks[overlays.TumorName].Labels[1] == 0 {
		t.Errorf("KiTS reading: kidney %d voxels and tumor %d, want 3 and 1 (voxel 1)", countVoxels(masks[overlays.KidneyName]), countVoxels(masks[overlays.TumorName]))
	}
	if m := masks[overlays.ProtrusionName]; m == nil || countVoxels(m) != 0 {
		t.Error("KiTS reading did not clear the protruded-region layer")
	}
	_, err = readMasksFor(notBinaryPath, ui.study, nil)
	if err == nil || !strings.Contains(err.Error(), "index (1, 0, 0) with label 2") {
		t.Errorf("tumor.nii.gz with the values 1 to 3: error %v, want one naming voxel (1, 0, 0) and the value 2", err)
	}

	_, err = readMasksFor(otherPath, ui.study, nil)
	if err == nil || !strings.Contains(err.Error(), otherPath) || !strings.Contains(err.Error(), "do not fit the open scan") {
		t.Errorf("mask on a shifted grid: error %v, want one naming %s and the grid mismatch", err, otherPath)
	}
	_, err = readMasksFor(filepath.Join(dir, "seg.dcm"), ui.study, nil)
	if err == nil || !strings.Contains(err.Error(), "not a DICOM series") {
		t.Errorf("SEG on a NIfTI scan: error %v, want one saying the scan is not a DICOM series", err)
	}
}

func keys(m map[string]*volume.Mask) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// sharedData returns the path of a file or folder in ../shared/data, or skips the test
// when it is absent, as it is in a fresh clone.
func sharedData(t *testing.T, rel string) string {
	t.Helper()
	path := filepath.Join("..", "..", "shared", "data", rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: the shared real data %s is absent (%v); it exists only in the development checkout", path, err)
	}
	return path
}

func TestOpenMasksRealKidneyMask(t *testing.T) {
	scan := sharedData(t, "real_ncct/torso_ncct_3mm.nii.gz")
	maskPath := sharedData(t, "real_ncct/torso_ncct_3mm_kidneys_pseudo.nii.gz")
	ui := newSessionTestUI(t, scan)

	// Another tool wrote the file, so the viewer prompts for how to read it, and the
	// test chooses the kidney layer.
	_, err := readMasksFor(maskPath, ui.study, nil)
	var unknown *unknownMaskFileError
	if !errors.As(err, &unknown) || !slices.Equal(unknown.values, []uint8{1}) {
		t.Fatalf("pseudo kidney mask without a choice: error %v, want an unknownMaskFileError with the values [1]", err)
	}
	masks, err := readMasksFor(maskPath, ui.study, &maskChoice{reading: readAsLayer, layer: overlays.KidneyName})
	if err != nil {
		t.Fatal(err)
	}
	ui.showMasks(masks, maskPath)
	kidney := ui.layers[0].Mask
	if kidney == nil {
		t.Fatal("the kidney layer has no mask")
	}
	// The data README measures the pseudo kidney mask at about 330 mL.
	if ml := maskVolumeML(kidney); ml < 300 || ml > 360 {
		t.Errorf("kidney layer %.1f mL, want about 330 mL", ml)
	}
	if len(masks) != 1 {
		t.Errorf("read into one layer, the file filled %v", keys(masks))
	}
}

func TestOpenMasksRealDICOMSEG(t *testing.T) {
	series := sharedData(t, "dicom/real_ncct_series")
	ui := newSessionTestUI(t, series)
	st := ui.study

	// A SEG written for the series with a tumor block and a kidney slab reads back onto
	// the same voxels.
	g := st.CT.Grid
	kidney, protrusion, tumor := volume.NewMask(g), volume.NewMask(g), volume.NewMask(g)
	for k := g.Size[2] / 3; k < g.Size[2]/2; k++ {
		for j := g.Size[1] / 4; j < g.Size[1]/2; j++ {
			for i := g.Size[0] / 4; i < g.Size[0]/3; i++ {
				kidney.Labels[g.Offset(i, j, k)] = 1
				if k < g.Size[2]/3+2 && j < g.Size[1]/4+3 {
					tumor.Labels[g.Offset(i, j, k)] = 1
				}
			}
		}
	}
	src, err := seg.ReadSource(st.Path, g)
	if err != nil {
		t.Fatal(err)
	}
	segPath := filepath.Join(t.TempDir(), "segmentation.dcm")
	layers := seg.Layers{Kidney: kidney, Protrusion: protrusion, Tumor: tumor}
	if err := seg.Write(segPath, src, layers.Segments(), seg.WriteOptions{SoftwareVersion: "test"}); err != nil {
		t.Fatal(err)
	}

	masks, err := readMasksFor(segPath, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]*volume.Mask{overlays.KidneyName: kidney, overlays.ProtrusionName: protrusion, overlays.TumorName: tumor} {
		got := masks[name]
		if got == nil {
			t.Errorf("layer %s is missing from the SEG", name)
			continue
		}
		checkVoxels(t, "SEG layer "+name, got, labelledVoxels(want))
	}
	if _, ok := masks[overlays.BaseTumorName]; ok {
		t.Error("a SEG without a base tumor segment gave the base tumor layer a mask")
	}
}

// TestSaveSessionIntoItsOwnFolder checks that Save session (Ctrl+S) writes a session
// that was opened from a folder back into that folder, without a dialog, and that a
// scan opened afterwards clears the folder.
func TestSaveSessionIntoItsOwnFolder(t *testing.T) {
	dir := t.TempDir()
	saved := editedTestSession(t, dir)
	snap, err := saved.captureSession(func(int, *volume.Mask) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	sessionDir := filepath.Join(dir, "review.protrude")
	if err := saveSession(sessionDir, snap); err != nil {
		t.Fatal(err)
	}

	ui := newSessionTestUI(t, saved.study.Path)
	if err := ui.openSession(sessionDir); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to open", func() bool {
		var done bool
		fyne.DoAndWait(func() { done = ui.sessionDir == sessionDir })
		return done
	})
	// Reject the accepted lesion, then save with no folder given.
	fyne.DoAndWait(func() {
		ui.selectLesion(1)
		ui.setLesionStatus(lesions.Rejected)
		ui.saveSession()
	})
	if n := len(ui.win.Canvas().Overlays().List()); n != 0 {
		t.Errorf("Save session opened %d dialogs for a session with a folder, want none", n)
	}
	waitFor(t, "the save into the session's own folder", func() bool {
		ls, err := loadSession(sessionDir)
		return err == nil && ls.lesions != nil && len(ls.lesions.Lesions) == 2 && ls.lesions.Lesions[1].Status == lesions.Rejected
	})

	fyne.DoAndWait(func() { ui.showStudy(ui.study) })
	if ui.sessionDir != "" {
		t.Errorf("after opening a scan, Save session still writes into %s", ui.sessionDir)
	}
}
