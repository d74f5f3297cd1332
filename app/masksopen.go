package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"

	"protrude/lesions"
	"protrude/overlays"
	"protrude/seg"
	"protrude/volume"
	"protrude/volume/nifti"
)

// layerOfMaskFile maps the base name of a per-layer NIfTI file, as protrude segment and
// a saved session name them, to its layer.
var layerOfMaskFile = map[string]string{
	"kidney":     overlays.KidneyName,
	"protrusion": overlays.ProtrusionName,
	"tumor":      overlays.TumorName,
	"base_tumor": overlays.BaseTumorName,
}

// maskReading is the way the values of a NIfTI mask file become layers.
type maskReading int

const (
	// readAsProtrudeLabelMap: 1 kidney, 2 protruded region, 3 tumor, as labels.nii.gz.
	readAsProtrudeLabelMap maskReading = iota
	// readAsKiTSLabelMap: the KiTS labels 1 kidney, 2 tumor, 3 cyst. The kidney layer
	// gets every label from 1 up, as protrude eval reads KiTS, and the tumor layer 2.
	readAsKiTSLabelMap
	// readAsLayer: every nonzero voxel goes into one layer.
	readAsLayer
)

// maskChoice is the user's choice of reading for a NIfTI file that Protrude did not write.
type maskChoice struct {
	reading maskReading
	// layer is the layer name for readAsLayer.
	layer string
}

// unknownMaskFileError reports a NIfTI file that is neither a per-layer file nor a
// label map that Protrude wrote, so the user must say how to read it.
type unknownMaskFileError struct {
	path string
	// values are the distinct nonzero values in the file, in increasing order.
	values []uint8
}

func (e *unknownMaskFileError) Error() string {
	return fmt.Sprintf("open masks %s: the file is not a mask that Protrude wrote (its values are %v), so say how to read it", e.path, e.values)
}

// readMasksFor reads the masks in the file at path for the scan st and returns them by
// layer name. The file is one of:
//
//   - a per-layer NIfTI file named kidney, protrusion, tumor or base_tumor (.nii or
//     .nii.gz) with the values 0 and 1, which fills that layer;
//   - a label map that Protrude wrote, such as labels.nii.gz (0 background, 1 kidney,
//     2 protruded region, 3 tumor, as its descrip states), which fills three disjoint
//     layers;
//   - a DICOM SEG (.dcm) with Protrude's segment labels, on the scan's DICOM series;
//   - any other NIfTI file, read as choice says. With a nil choice it returns an
//     *unknownMaskFileError, which lists the file's values for the question.
//
// Every mask must lie on the scan's grid; the error names both files and the
// difference. It runs off the UI goroutine.
func readMasksFor(path string, st *study, choice *maskChoice) (map[string]*volume.Mask, error) {
	lower := strings.ToLower(filepath.Base(path))
	if strings.HasSuffix(lower, ".dcm") {
		return readSEGFor(path, st)
	}
	stem, isNIfTI := strings.CutSuffix(lower, ".nii.gz")
	if !isNIfTI {
		stem, isNIfTI = strings.CutSuffix(lower, ".nii")
	}
	if !isNIfTI {
		return nil, fmt.Errorf("open masks %s: not a NIfTI file (.nii, .nii.gz) or a DICOM SEG (.dcm)", path)
	}

	// The grid is checked from the header before any voxel is read.
	raw, h, err := nifti.ReadMaskOnGrid(path, st.CT.Grid)
	if errors.Is(err, nifti.ErrGridMismatch) {
		return nil, fmt.Errorf("open masks %s: the masks do not fit the open scan %s: %w", path, st.Path, err)
	}
	if err != nil {
		return nil, err
	}
	layer, perLayer := layerOfMaskFile[stem]
	switch {
	case choice != nil:
	case perLayer:
		if err := nifti.CheckBinaryMask(raw); err != nil {
			return nil, fmt.Errorf("open masks %s: %w. If it is a label map, give it a name other than %s and choose how to read it",
				path, err, filepath.Base(path))
		}
		choice = &maskChoice{reading: readAsLayer, layer: layer}
	case h.Descrip == seg.LabelMapDescription:
		choice = &maskChoice{reading: readAsProtrudeLabelMap}
	default:
		return nil, &unknownMaskFileError{path: path, values: distinctValues(raw)}
	}
	masks, err := splitMaskFile(path, raw, *choice)
	if err != nil {
		return nil, err
	}
	// The file's grid matches the scan's within 1e-3 mm, but its origin and axes went
	// through float32 in the NIfTI header. The masks take the scan's exact grid, as the
	// network outputs have it, so that a re-run accepts an edit of them.
	for _, m := range masks {
		m.Grid = st.CT.Grid
	}
	return masks, nil
}

// splitMaskFile turns the values of raw into layers in the reading that choice gives.
func splitMaskFile(path string, raw *volume.Mask, choice maskChoice) (map[string]*volume.Mask, error) {
	masks := map[string]*volume.Mask{}
	switch choice.reading {
	case readAsProtrudeLabelMap:
		// The kidney layer includes the tumor and the protruded region, which the
		// label map paints over it, so it is every labelled voxel. The protruded
		// region under the tumor cannot be recovered.
		l, err := seg.SplitLabels(raw)
		if err != nil {
			return nil, fmt.Errorf("open masks %s as a Protrude label map: %w", path, err)
		}
		kidney := volume.NewMask(raw.Grid)
		for n, v := range raw.Labels {
			if v != 0 {
				kidney.Labels[n] = 1
			}
		}
		masks[overlays.KidneyName], masks[overlays.ProtrusionName], masks[overlays.TumorName] = kidney, l.Protrusion, l.Tumor
	case readAsKiTSLabelMap:
		kidney, tumor := volume.NewMask(raw.Grid), volume.NewMask(raw.Grid)
		for n, v := range raw.Labels {
			switch {
			case v == 0:
			case v <= 3:
				kidney.Labels[n] = 1
				if v == 2 {
					tumor.Labels[n] = 1
				}
			default:
				i, j, k := raw.Index(n)
				return nil, fmt.Errorf("open masks %s as a KiTS label map: voxel (%d, %d, %d) has the value %d, but KiTS uses only 0 to 3", path, i, j, k, v)
			}
		}
		// KiTS has no protruded region, so that layer is cleared rather than left
		// from another source.
		masks[overlays.KidneyName], masks[overlays.ProtrusionName], masks[overlays.TumorName] = kidney, volume.NewMask(raw.Grid), tumor
	case readAsLayer:
		m := volume.NewMask(raw.Grid)
		for n, v := range raw.Labels {
			if v != 0 {
				m.Labels[n] = 1
			}
		}
		masks[choice.layer] = m
	}
	return masks, nil
}

// distinctValues returns the distinct nonzero values of m in increasing order.
func distinctValues(m *volume.Mask) []uint8 {
	var seen [256]bool
	for _, v := range m.Labels {
		seen[v] = true
	}
	var values []uint8
	for v := 1; v < 256; v++ {
		if seen[v] {
			values = append(values, uint8(v))
		}
	}
	return values
}

// readSEGFor reads a DICOM SEG whose segments are Protrude's layers, placing its
// frames on the grid of the scan's DICOM series.
func readSEGFor(path string, st *study) (map[string]*volume.Mask, error) {
	if st.Series == nil {
		return nil, fmt.Errorf("open masks %s: a DICOM SEG refers to DICOM images, but the open scan %s is not a DICOM series", path, st.Path)
	}
	src, err := seg.ReadSource(st.Path, st.CT.Grid)
	if err != nil {
		return nil, fmt.Errorf("open masks %s: read the scan's series: %w", path, err)
	}
	segments, err := seg.Read(path, src)
	if err != nil {
		return nil, err
	}
	l, err := seg.LayersFromSegments(segments)
	if err != nil {
		return nil, fmt.Errorf("open masks %s: %w", path, err)
	}
	masks := map[string]*volume.Mask{
		overlays.KidneyName: l.Kidney, overlays.ProtrusionName: l.Protrusion, overlays.TumorName: l.Tumor,
	}
	if l.BaseTumor != nil {
		masks[overlays.BaseTumorName] = l.BaseTumor
	}
	return masks, nil
}

// openMasksDialog shows a file dialog and loads the chosen masks onto the open scan.
func (ui *viewerUI) openMasksDialog() {
	if ui.study == nil {
		ui.showError("Open masks", errors.New("open a scan first; the masks are loaded onto it"))
		return
	}
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			ui.showError("Open masks", err)
			return
		}
		if r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		go ui.openMasks(path, nil)
	}, ui.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".nii", ".gz", ".dcm"}))
	d.Resize(fyne.NewSize(900, 640))
	d.Show()
}

// openMasks reads the masks at path onto the open scan and shows them. For a NIfTI
// file that Protrude did not write and a nil choice, it prompts for the reading and
// then reads the file again with the user's choice. It runs off the UI goroutine.
func (ui *viewerUI) openMasks(path string, choice *maskChoice) {
	var st *study
	fyne.DoAndWait(func() { st = ui.study })
	if st == nil {
		return
	}
	masks, err := readMasksFor(path, st, choice)
	var review *lesions.Table
	var reviewErr error
	if err == nil {
		review, reviewErr = readReviewFor(path, masks[overlays.TumorName], st)
	}
	var unknown *unknownMaskFileError
	fyne.Do(func() {
		switch {
		case ui.study != st:
			slog.Info("masks not shown, because another scan was opened meanwhile", "file", path)
		case errors.As(err, &unknown):
			ui.askMaskReading(unknown)
		case err != nil:
			ui.showError("Open masks", err)
		default:
			ui.showMasksWithReview(masks, review, path)
			if reviewErr != nil {
				ui.showError("Open masks: lesion review not loaded", fmt.Errorf("the masks are shown, and every lesion is unreviewed, because %w", reviewErr))
			}
		}
	})
}

// askMaskReading prompts for the reading of a NIfTI file that Protrude did not write,
// and opens the file with the chosen reading. It runs on the UI goroutine.
func (ui *viewerUI) askMaskReading(e *unknownMaskFileError) {
	type option struct {
		label  string
		choice maskChoice
	}
	options := []option{
		{"Protrude label map: 1 kidney, 2 protruded region, 3 tumor", maskChoice{reading: readAsProtrudeLabelMap}},
		{"KiTS label map: 1 kidney, 2 tumor, 3 cyst (kidney layer: 1 to 3)", maskChoice{reading: readAsKiTSLabelMap}},
	}
	for _, l := range ui.layers {
		options = append(options, option{"One layer, every nonzero voxel: " + l.Name, maskChoice{reading: readAsLayer, layer: l.Name}})
	}
	labels := make([]string, len(options))
	for n, o := range options {
		labels[n] = o.label
	}

	// No option is preselected: the file's origin is unknown, and a wrong reading
	// silently swaps layers.
	radio := widget.NewRadioGroup(labels, nil)
	values := make([]string, len(e.values))
	for n, v := range e.values {
		values[n] = fmt.Sprint(v)
	}
	text := widget.NewLabel(fmt.Sprintf("%s was not written by Protrude. Its voxel values other than 0 are %s.\nThe layers it fills replace those shown now.",
		filepath.Base(e.path), strings.Join(values, ", ")))
	text.Wrapping = fyne.TextWrapWord

	open := func(ok bool) {
		if !ok {
			return
		}
		if radio.Selected == "" {
			ui.askMaskReading(e)
			return
		}
		for _, o := range options {
			if o.label == radio.Selected {
				choice := o.choice
				go ui.openMasks(e.path, &choice)
			}
		}
	}
	d := dialog.NewCustomConfirm("How should this file be read?", "Open", "Cancel", container.NewVBox(text, radio), open, ui.win)
	d.Resize(fyne.NewSize(640, 420))
	d.Show()
}

// readReviewFor reads the lesion review in lesions.json next to the masks file at
// path, for the tumor mask read from it. It returns nil and no error when there is no
// tumor mask or no such file. It runs off the UI goroutine.
func readReviewFor(path string, tumor *volume.Mask, st *study) (*lesions.Table, error) {
	if tumor == nil {
		return nil, nil
	}
	reviewPath := filepath.Join(filepath.Dir(path), lesionsFileName)
	if _, err := os.Stat(reviewPath); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	t, err := lesions.Load(reviewPath, tumor, st.CT)
	if err != nil {
		return nil, err
	}
	slog.Info("lesion review opened", "file", reviewPath, "lesions", len(t.Lesions))
	return t, nil
}

// showMasks puts masks onto the layers of the same names. The other layers keep
// theirs. The undo history is cleared, as after a run, and the lesion list starts a
// fresh review when the tumor layer changed. It runs on the UI goroutine.
func (ui *viewerUI) showMasks(masks map[string]*volume.Mask, path string) {
	ui.showMasksWithReview(masks, nil, path)
}

// showMasksWithReview is showMasks with the lesion review of the new tumor mask, or
// nil for a fresh review.
func (ui *viewerUI) showMasksWithReview(masks map[string]*volume.Mask, review *lesions.Table, path string) {
	var names []string
	for _, l := range ui.layers {
		if m, ok := masks[l.Name]; ok {
			l.Mask = m
			names = append(names, l.Name)
		}
	}
	// The masks no longer all come from one run of a known bundle.
	ui.bundleID = ""
	ui.views.SetLayers(ui.layers)
	ui.resetEdits()
	if review != nil && masks[overlays.TumorName] != nil {
		ui.lesionList.table, ui.lesionList.mask = review, masks[overlays.TumorName]
	}
	ui.refreshLesions()
	ui.views.Refresh()
	ui.progress.Refresh()
	ui.stageLabel.SetText(fmt.Sprintf("Opened %s from %s", strings.ToLower(strings.Join(names, ", ")), filepath.Base(path)))
	slog.Info("masks opened", "file", path, "layers", names)
	if slices.Contains(names, overlays.TumorName) {
		ui.lesionList.list.UnselectAll()
	}
	ui.markSessionChanged()
}
