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
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"protrude/lesions"
	"protrude/metrics"
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

// readMasksFor reads the masks in the file at path for the scan st and returns them by
// layer name. The file is one of:
//
//   - a per-layer NIfTI file named kidney, protrusion, tumor or base_tumor (.nii or
//     .nii.gz), which fills that layer;
//   - any other NIfTI file, read as a label map such as labels.nii.gz (0 background,
//     1 kidney, 2 protruded region, 3 tumor), which fills three disjoint layers;
//   - a DICOM SEG (.dcm) that protrude segment wrote for the scan's DICOM series.
//
// Every mask must lie on the scan's grid; the error names both files and the
// difference. It runs off the UI goroutine.
func readMasksFor(path string, st *study) (map[string]*volume.Mask, error) {
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

	masks := map[string]*volume.Mask{}
	if name, ok := layerOfMaskFile[stem]; ok {
		m, _, err := nifti.ReadMask(path)
		if err != nil {
			return nil, err
		}
		masks[name] = m
	} else {
		l, _, err := seg.ReadLabelMap(path)
		if err != nil {
			return nil, fmt.Errorf("%w\nA NIfTI file not named kidney, protrusion, tumor or base_tumor is read as a label map with the values 0 to 3", err)
		}
		masks[overlays.KidneyName], masks[overlays.ProtrusionName], masks[overlays.TumorName] = l.Kidney, l.Protrusion, l.Tumor
	}
	for _, m := range masks {
		if err := metrics.CheckSameGrid(m.Grid, st.CT.Grid); err != nil {
			return nil, fmt.Errorf("open masks %s: the masks do not fit the open scan %s: %w", path, st.Path, err)
		}
	}
	return masks, nil
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
		go ui.openMasks(path)
	}, ui.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".nii", ".gz", ".dcm"}))
	d.Resize(fyne.NewSize(900, 640))
	d.Show()
}

// openMasks reads the masks at path onto the open scan and shows them. It runs off the
// UI goroutine.
func (ui *viewerUI) openMasks(path string) {
	var st *study
	fyne.DoAndWait(func() { st = ui.study })
	if st == nil {
		return
	}
	masks, err := readMasksFor(path, st)
	var review *lesions.Table
	var reviewErr error
	if err == nil {
		review, reviewErr = readReviewFor(path, masks[overlays.TumorName], st)
	}
	fyne.Do(func() {
		switch {
		case err != nil:
			ui.showError("Open masks", err)
		case ui.study != st:
			slog.Info("masks not shown, because another scan was opened meanwhile", "file", path)
		default:
			ui.showMasksWithReview(masks, review, path)
			if reviewErr != nil {
				ui.showError("Open masks: lesion review not loaded", fmt.Errorf("the masks are shown, and every lesion is unreviewed, because %w", reviewErr))
			}
		}
	})
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
	ui.stageLabel.SetText(fmt.Sprintf("Opened %s from %s", strings.ToLower(strings.Join(names, ", ")), filepath.Base(path)))
	slog.Info("masks opened", "file", path, "layers", names)
	if slices.Contains(names, overlays.TumorName) {
		ui.lesionList.list.UnselectAll()
	}
	ui.markSessionChanged()
}
