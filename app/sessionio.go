package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"protrude/assets"
	"protrude/lesions"
	"protrude/metrics"
	"protrude/overlays"
	"protrude/viewer"
	"protrude/volume"
	"protrude/volume/nifti"
)

// sessionSnapshot is the state of the window at one moment, taken on the UI goroutine
// so that it can be written on another while editing goes on.
type sessionSnapshot struct {
	file sessionFile
	// masks maps a layer name to a private copy of its mask, for the layers whose
	// file must be written. A layer with a file but no entry here is unchanged since
	// the previous write into the same folder.
	masks map[string]*volume.Mask
	// lesions is a clone of the lesion table, or nil when the tumor layer has no mask.
	lesions *lesions.Table
	// template is the scan's NIfTI header, so masks carry its qform and sform, or nil.
	template *nifti.Header
}

// captureSession takes a snapshot of the open scan's session. copyMask reports whether
// the mask of a layer must be copied for writing. It runs on the UI goroutine and
// returns an error when no scan is open.
func (ui *viewerUI) captureSession(copyMask func(layer int, m *volume.Mask) bool) (*sessionSnapshot, error) {
	st := ui.study
	if st == nil {
		return nil, errors.New("no scan is open")
	}
	source := sessionSource{Kind: sourceNIfTI, Path: st.Path}
	switch {
	case st.Demo:
		source = sessionSource{Kind: sourceDemo}
	case st.Series != nil:
		source = sessionSource{Kind: sourceDICOM, Path: st.Path, SeriesKey: st.SeriesKey}
	}
	if source.Path != "" {
		abs, err := filepath.Abs(source.Path)
		if err != nil {
			return nil, fmt.Errorf("make the scan path %s absolute: %w", source.Path, err)
		}
		source.Path = abs
	}

	if st.fingerprint == "" {
		st.fingerprint = scanFingerprint(st.CT)
	}
	source.VoxelFingerprint = st.fingerprint
	snap := &sessionSnapshot{masks: map[string]*volume.Mask{}, template: st.NIfTIHeader}
	snap.file = sessionFile{
		Format: sessionFormatName, Version: sessionFormatVersion, SavedAt: time.Now().UTC().Truncate(time.Second),
		Source: source, Grid: gridToSession(st.CT.Grid), ModelBundle: ui.bundleID,
		View: ui.captureView(),
	}
	for n, l := range ui.layers {
		sl := sessionLayer{Name: l.Name, Visible: l.Visible, Opacity: l.Opacity, Style: styleName(l.Style)}
		if l.Mask != nil {
			sl.File = layerFileNames[l.Name]
			if copyMask(n, l.Mask) {
				snap.masks[l.Name] = &volume.Mask{Grid: l.Mask.Grid, Labels: slices.Clone(l.Mask.Labels)}
			}
		}
		snap.file.Layers = append(snap.file.Layers, sl)
	}
	if t := ui.lesionList.table; t != nil && ui.lesionList.mask != nil && ui.lesionList.mask == ui.layers[tumorLayer].Mask {
		snap.lesions = t.Clone()
		snap.file.Lesions = sessionLesionsFile
	}
	return snap, nil
}

// captureView returns the cursor, window, zoom, pan, layout and active layer.
func (ui *viewerUI) captureView() sessionView {
	wl := ui.views.Window()
	v := sessionView{
		CursorIndex: ui.views.Cursor(), WindowWidthHU: wl.WidthHU, WindowLevelHU: wl.LevelHU,
		Views:       map[string]sessionViewZoom{},
		ActiveLayer: ui.layers[ui.tools.activeLayer].Name,
	}
	for _, o := range viewer.Orientations {
		sv := ui.views.View(o)
		panX, panY := sv.PanOffset()
		v.Views[viewNames[o]] = sessionViewZoom{Zoom: sv.ZoomFactor(), PanX: panX, PanY: panY}
	}
	if o, ok := ui.views.Maximized(); ok {
		v.Maximized = viewNames[o]
	}
	return v
}

// outputFiles returns the files of the snapshot: the copied masks, the lesion table and
// session.json last, so that a reader that finds session.json finds its masks too.
func (s *sessionSnapshot) outputFiles() []outputFile {
	var files []outputFile
	for _, l := range s.file.Layers {
		m, ok := s.masks[l.Name]
		if !ok {
			continue
		}
		files = append(files, outputFile{name: l.File, write: func(path string) error {
			return nifti.WriteMask(path, m, nifti.WriteOptions{Description: "Protrude: " + researchNotice, Template: s.template})
		}})
	}
	if s.lesions != nil {
		files = append(files, outputFile{name: sessionLesionsFile, write: s.lesions.Save})
	}
	files = append(files, outputFile{name: sessionFileName, write: func(path string) error {
		return writeSessionJSON(filepath.Dir(path), &s.file)
	}})
	return files
}

// saveSession writes a complete session into the folder dir, creating it when it does
// not exist. The files replace those of an earlier save together or not at all.
func saveSession(dir string, s *sessionSnapshot) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the session folder: %w", err)
	}
	return writeOutputSet(dir, s.outputFiles())
}

// loadedSession is a session read from disk with its scan, ready to show.
type loadedSession struct {
	dir   string
	file  *sessionFile
	study *study
	// masks maps a layer name to its mask, on the scan's grid.
	masks   map[string]*volume.Mask
	lesions *lesions.Table
}

// loadSession reads the session at path (its folder or its session.json), opens its
// scan and masks and checks that they all share the grid recorded in the session. It
// runs off the UI goroutine.
func loadSession(path string) (*loadedSession, error) {
	file, dir, err := readSessionFile(path)
	if err != nil {
		return nil, err
	}
	jsonPath := filepath.Join(dir, sessionFileName)

	st, err := openSessionSource(file, dir)
	if err != nil {
		return nil, fmt.Errorf("open the scan of session %s: %w", jsonPath, err)
	}
	if err := metrics.CheckSameGrid(st.CT.Grid, file.Grid.grid()); err != nil {
		return nil, fmt.Errorf("session %s: the scan %s no longer matches the session's grid field, so the masks would not fit it: %w", jsonPath, st.Path, err)
	}
	if want := file.Source.VoxelFingerprint; want != "" {
		if got := scanFingerprint(st.CT); got != want {
			return nil, fmt.Errorf("session %s: the scan %s has changed since the session was saved: its voxels give the fingerprint %s, but source.voxelFingerprint is %s", jsonPath, st.Path, got, want)
		}
	}

	ls := &loadedSession{dir: dir, file: file, study: st, masks: map[string]*volume.Mask{}}
	for n, l := range file.Layers {
		if l.File == "" {
			continue
		}
		// The grid is checked from the header before any voxel is read, so a corrupt
		// header that claims a huge grid costs no memory.
		m, _, err := nifti.ReadMaskOnGrid(filepath.Join(dir, l.File), st.CT.Grid)
		if errors.Is(err, nifti.ErrGridMismatch) {
			return nil, fmt.Errorf("session %s, layers[%d].file %s does not fit the scan: %w", jsonPath, n, l.File, err)
		}
		if err != nil {
			return nil, fmt.Errorf("session %s, layers[%d] (%s): %w", jsonPath, n, l.Name, err)
		}
		if err := nifti.CheckBinaryMask(m); err != nil {
			return nil, fmt.Errorf("session %s, layers[%d].file %s: %w", jsonPath, n, l.File, err)
		}
		// The mask takes the scan's exact grid, which its header matches within
		// 1e-3 mm, so that edits of it are on the grid a re-run expects.
		m.Grid = st.CT.Grid
		ls.masks[l.Name] = m
	}
	if file.Lesions != "" {
		tumor := ls.masks[overlays.TumorName]
		if tumor == nil {
			return nil, fmt.Errorf("session %s: lesions is %q, but the %s layer has no file", jsonPath, file.Lesions, overlays.TumorName)
		}
		if ls.lesions, err = lesions.Load(filepath.Join(dir, file.Lesions), tumor, st.CT); err != nil {
			return nil, fmt.Errorf("session %s: %w", jsonPath, err)
		}
	}
	return ls, nil
}

// openSessionSource loads the scan that a session names.
func openSessionSource(file *sessionFile, dir string) (*study, error) {
	if file.Source.Kind == sourceDemo {
		path, cleanup, err := assets.DemoCaseFile()
		if err != nil {
			return nil, err
		}
		defer cleanup()
		st, err := loadStudy(path)
		if err != nil {
			return nil, err
		}
		st.Path, st.Demo = demoCasePath, true
		return st, nil
	}
	st, err := loadStudySeries(file.sourcePath(dir), file.Source.SeriesKey)
	if err != nil {
		return nil, err
	}
	isDICOM := st.Series != nil
	if isDICOM != (file.Source.Kind == sourceDICOM) {
		return nil, fmt.Errorf("source.kind is %q, but %s is a %s", file.Source.Kind, st.Path, map[bool]string{true: "DICOM folder", false: "NIfTI file"}[isDICOM])
	}
	return st, nil
}

// applySession shows a loaded session: its scan, masks, display settings, lesion
// statuses and view state. It runs on the UI goroutine. The undo history starts empty.
func (ui *viewerUI) applySession(ls *loadedSession) {
	ui.showStudy(ls.study)
	ui.bundleID = ls.file.ModelBundle

	for _, sl := range ls.file.Layers {
		for _, l := range ui.layers {
			if l.Name != sl.Name {
				continue
			}
			l.Mask = ls.masks[sl.Name]
			l.Visible, l.Opacity = sl.Visible, sl.Opacity
			l.Style = overlays.Fill
			if sl.Style == styleOutline {
				l.Style = overlays.Outline
			}
		}
	}
	ui.rebuildLayerControls()
	ui.views.SetLayers(ui.layers)
	ui.resetEdits()
	ui.lesionList.table, ui.lesionList.mask = nil, nil
	if ls.lesions != nil {
		ui.lesionList.table, ui.lesionList.mask = ls.lesions, ui.layers[tumorLayer].Mask
	}
	ui.refreshLesions()

	v := ls.file.View
	ui.views.SetWindow(viewer.WindowLevel{WidthHU: v.WindowWidthHU, LevelHU: v.WindowLevelHU})
	ui.windowChanged(ui.views.Window())
	for _, p := range viewer.Presets {
		if p.WidthHU == v.WindowWidthHU && p.LevelHU == v.WindowLevelHU {
			ui.windowSel.SetSelected(p.String())
		}
	}
	ui.views.SetCursor(v.CursorIndex)
	for _, o := range viewer.Orientations {
		if z, ok := v.Views[viewNames[o]]; ok {
			ui.views.View(o).SetZoomPan(z.Zoom, z.PanX, z.PanY)
		}
	}
	ui.views.Restore()
	for o, name := range viewNames {
		if v.Maximized == name {
			ui.views.Maximize(o)
		}
	}
	for n, l := range ui.layers {
		if l.Name == v.ActiveLayer {
			ui.setActiveLayer(n)
		}
	}
	ui.sliceChanged(ui.views.View(viewer.Axial).Slice())
	ui.updateStatus()
	ui.progress.Refresh()
}
