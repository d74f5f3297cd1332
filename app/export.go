package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"protrude/lesions"
	"protrude/seg"
	"protrude/volume"
)

// lesionsFileName is the lesion table that protrude segment and Export masks write
// next to the masks, with the review status of each lesion.
const lesionsFileName = "lesions.json"

// maskSet is one set of masks to write, all on the scan's grid.
type maskSet struct {
	layers seg.Layers
	// semiautomatic marks, by segment number minus 1, the layers that were edited by
	// hand after a network made them, or whose origin is not known. Their SEG
	// segments are SEMIAUTOMATIC instead of AUTOMATIC.
	semiautomatic [4]bool
	// lesions is the lesion table of layers.Tumor with its review status, or nil.
	lesions *lesions.Table
	// changes is the viewer's change count when the set was captured.
	changes uint64
}

// perLayerFiles maps each layer of a maskSet to its NIfTI file name.
func (s *maskSet) perLayerFiles() []struct {
	name string
	mask *volume.Mask
} {
	return []struct {
		name string
		mask *volume.Mask
	}{
		{"kidney.nii.gz", s.layers.Kidney},
		{"protrusion.nii.gz", s.layers.Protrusion},
		{"tumor.nii.gz", s.layers.Tumor},
		// The base network's own tumor output, before fusion: for comparing the
		// pipeline against the base network alone.
		{"base_tumor.nii.gz", s.layers.BaseTumor},
	}
}

// maskOutputFiles returns the files that write set for the scan st in format:
//
//   - nifti: one NIfTI file per layer that has a mask, and labels.nii.gz;
//   - seg: segmentation.dcm, a DICOM SEG that refers to segSource;
//   - both: all of these.
//
// lesions.json comes with every format when the set has a lesion table. The label map
// and the SEG need the kidney, protruded-region and tumor layers, so a layer without a
// mask is written there as an empty one.
func maskOutputFiles(st *study, set *maskSet, format string, segSource *seg.Source) []outputFile {
	complete := set.layers
	for _, m := range []**volume.Mask{&complete.Kidney, &complete.Protrusion, &complete.Tumor} {
		if *m == nil {
			*m = volume.NewMask(st.CT.Grid)
		}
	}
	var files []outputFile
	if format != formatSEG {
		for _, o := range set.perLayerFiles() {
			if o.mask != nil {
				files = append(files, outputFile{o.name, func(path string) error { return st.writeMask(path, o.mask) }})
			}
		}
		files = append(files, outputFile{"labels.nii.gz", func(path string) error {
			return seg.WriteLabelMap(path, complete, st.NIfTIHeader)
		}})
	}
	if format != formatNIfTI {
		segments := complete.Segments()
		for n := range segments {
			if set.semiautomatic[n] {
				segments[n].AlgorithmType = seg.AlgorithmSemiautomatic
			}
		}
		files = append(files, outputFile{"segmentation.dcm", func(path string) error {
			return seg.Write(path, segSource, segments, seg.WriteOptions{SoftwareVersion: version})
		}})
	}
	if set.lesions != nil {
		files = append(files, outputFile{lesionsFileName, set.lesions.Save})
	}
	return files
}

// exportFormatLabels are the choices of the export dialog, by format.
var exportFormatLabels = map[string]string{
	formatNIfTI: "NIfTI: one file per layer and labels.nii.gz",
	formatSEG:   "DICOM SEG: segmentation.dcm",
	formatBoth:  "Both",
}

// captureMaskSet copies the layers' masks and the lesion table for writing on another
// goroutine. It runs on the UI goroutine.
func (ui *viewerUI) captureMaskSet() (*maskSet, error) {
	if ui.study == nil {
		return nil, errors.New("no scan is open")
	}
	masks := make([]*volume.Mask, len(ui.layers))
	found := false
	for n, l := range ui.layers {
		if l.Mask != nil {
			masks[n] = &volume.Mask{Grid: l.Mask.Grid, Labels: slices.Clone(l.Mask.Labels)}
			found = true
		}
	}
	if !found {
		return nil, errors.New("no layer has a mask yet: run the networks, paint a layer or open masks first")
	}
	set := &maskSet{layers: seg.Layers{Kidney: masks[kidneyLayer], Protrusion: masks[protrusionLayer], Tumor: masks[tumorLayer], BaseTumor: masks[baseTumorLayer]},
		changes: ui.changeCount()}
	for n, m := range masks {
		set.semiautomatic[n] = m != nil && !ui.isNetworkOutput(n, m)
	}
	if t := ui.lesionList.table; t != nil && ui.lesionList.mask == ui.layers[tumorLayer].Mask {
		set.lesions = t.Clone()
	}
	return set, nil
}

// isNetworkOutput reports whether layer n's labels m equal what a network made in the
// last run or re-run, so that no hand edit is in them. Masks opened from files or a
// session have no such record and count as edited.
func (ui *viewerUI) isNetworkOutput(n int, m *volume.Mask) bool {
	if ui.last == nil || n >= len(ui.last.network) {
		return false
	}
	want := ui.last.network[n]
	return want != nil && len(want) == len(m.Labels) && !labelsDiffer(m.Labels, want)
}

// defaultOutputDir suggests a folder next to the scan, named after it with suffix,
// or in the home folder for the demo case.
func defaultOutputDir(st *study, suffix string) string {
	if st.Demo {
		home, err := os.UserHomeDir()
		if err != nil {
			return "protrude-demo" + suffix
		}
		return filepath.Join(home, "protrude-demo"+suffix)
	}
	base := filepath.Base(filepath.Clean(st.Path))
	for _, ext := range []string{".nii.gz", ".nii"} {
		if stem, ok := strings.CutSuffix(strings.ToLower(base), ext); ok {
			base = base[:len(stem)]
			break
		}
	}
	return filepath.Join(filepath.Dir(filepath.Clean(st.Path)), base+suffix)
}

// exportMasksDialog prompts for the format and the folder, then writes the masks.
func (ui *viewerUI) exportMasksDialog() {
	if ui.study == nil {
		ui.showError("Export masks", errors.New("open a scan first"))
		return
	}
	st := ui.study
	options := []string{exportFormatLabels[formatNIfTI]}
	if st.Series != nil {
		options = append(options, exportFormatLabels[formatSEG], exportFormatLabels[formatBoth])
	}
	formatRadio := widget.NewRadioGroup(options, nil)
	formatRadio.Required = true
	formatRadio.SetSelected(options[len(options)-1])
	if last := exportFormatLabels[ui.lastExportFormat]; slices.Contains(options, last) {
		formatRadio.SetSelected(last)
	}
	dir := defaultOutputDir(st, "-masks")
	if ui.lastExportDir != "" {
		dir = ui.lastExportDir
	}
	note := "DICOM SEG needs a scan opened from a DICOM folder."
	if st.Series != nil {
		note = "The SEG refers to the open DICOM series."
	}
	ui.folderForm("Export masks", "Export", dir,
		[]*widget.FormItem{widget.NewFormItem("Format", formatRadio)}, note,
		func(dir string) {
			format := formatNIfTI
			for f, label := range exportFormatLabels {
				if label == formatRadio.Selected {
					format = f
				}
			}
			ui.lastExportDir, ui.lastExportFormat = dir, format
			ui.confirmExport(dir, format)
		})
}

// confirmExport confirms before replacing Protrude files in dir, then exports.
func (ui *viewerUI) confirmExport(dir, format string) {
	set, err := ui.captureMaskSet()
	if err != nil {
		ui.showError("Export masks", err)
		return
	}
	var names []string
	for _, f := range maskOutputFiles(ui.study, set, format, nil) {
		names = append(names, f.name)
	}
	ui.confirmReplace(dir, names, func() { ui.exportMasks(dir, format, set) })
}

// knownOutputNames are the files that Protrude writes into an output, export or
// session folder.
var knownOutputNames = []string{"kidney.nii.gz", "protrusion.nii.gz", "tumor.nii.gz", "base_tumor.nii.gz",
	"labels.nii.gz", "segmentation.dcm", lesionsFileName, sessionFileName, "montage.png"}

// confirmReplace calls write at once when dir holds none of the files named, and
// otherwise after a confirmation that lists them and the Protrude files that the write
// leaves in place, which then no longer match. It runs on the UI goroutine.
func (ui *viewerUI) confirmReplace(dir string, names []string, write func()) {
	var replaced, left []string
	for _, name := range knownOutputNames {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			continue
		}
		if slices.Contains(names, name) {
			replaced = append(replaced, name)
		} else {
			left = append(left, name)
		}
	}
	for _, name := range names {
		if !slices.Contains(knownOutputNames, name) && !slices.Contains(replaced, name) {
			if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
				replaced = append(replaced, name)
			}
		}
	}
	if len(replaced) == 0 && len(left) == 0 {
		write()
		return
	}
	text := fmt.Sprintf("%s already contains Protrude files.", dir)
	if len(replaced) > 0 {
		text += "\nReplaced with the masks shown now: " + strings.Join(replaced, ", ") + "."
	}
	if len(left) > 0 {
		text += "\nLeft as they are, and so no longer matching: " + strings.Join(left, ", ") + "."
	}
	text += "\nTo keep them apart, choose Cancel and another folder."
	ui.confirmDestructive("Replace files?", text, "Replace", write)
}

// exportMasks writes set into dir in the background: the files replace earlier ones
// together or not at all. It runs on the UI goroutine.
func (ui *viewerUI) exportMasks(dir, format string, set *maskSet) {
	st := ui.study
	changesAtCapture := set.changes
	ui.stageLabel.SetText("Exporting masks…")
	go func() {
		start := time.Now()
		files, err := exportMaskFiles(st, set, dir, format)
		fyne.Do(func() {
			if err != nil {
				ui.stageLabel.SetText("Export failed")
				ui.showError("Export masks failed", err)
				return
			}
			slog.Info("masks exported", "dir", dir, "format", format, "files", len(files), "duration", time.Since(start).Round(time.Millisecond))
			ui.stageLabel.SetText(fmt.Sprintf("Exported %s to %s", strings.Join(files, ", "), dir))
			// The masks and the review are on disk now, so quitting or opening another
			// scan needs no confirmation, unless they change again.
			ui.savedChanges, ui.unsavedRecovery = changesAtCapture, false
		})
	}()
}

// exportMaskFiles writes set into dir in format and returns the names of the files
// written. It creates dir when it does not exist. It runs off the UI goroutine.
func exportMaskFiles(st *study, set *maskSet, dir, format string) ([]string, error) {
	var segSource *seg.Source
	if format != formatNIfTI {
		if st.Series == nil {
			return nil, fmt.Errorf("a DICOM SEG must refer to a DICOM series, but %s is a NIfTI file; export as NIfTI", st.Path)
		}
		var err error
		if segSource, err = seg.ReadSource(st.Path, st.CT.Grid); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the export folder: %w", err)
	}
	files := maskOutputFiles(st, set, format, segSource)
	if err := writeOutputSet(dir, files); err != nil {
		return nil, err
	}
	names := make([]string, len(files))
	for n, f := range files {
		names[n] = f.name
	}
	return names, nil
}
