package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"protrude/internal/atomicfile"
	"protrude/internal/strictjson"
	"protrude/overlays"
	"protrude/viewer"
	"protrude/volume"
	"protrude/volume/nifti"
)

// A session is a folder that contains sessionFileName and the files it names: one NIfTI
// mask per layer and the lesion table. The scan itself is not copied; the session
// names its path. docs/formats.md describes the format for other tools.
const (
	sessionFormatName    = "protrude-session"
	sessionFormatVersion = 1
	sessionFileName      = "session.json"
	sessionLesionsFile   = "lesions.json"
	// maxSessionFileBytes bounds the size of session.json, which holds no voxel data.
	maxSessionFileBytes = 1 << 20
)

// Kinds of the scan a session refers to.
const (
	sourceNIfTI = "nifti"
	sourceDICOM = "dicom"
	sourceDemo  = "demo"
)

// sessionFile is the content of session.json.
type sessionFile struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	// SavedAt is when the session was written, in UTC.
	SavedAt time.Time     `json:"savedAt"`
	Source  sessionSource `json:"source"`
	Grid    sessionGrid   `json:"grid"`
	// ModelBundle is the ID of the model bundle whose run made the masks, or "" when no
	// run was made in the session that saved it.
	ModelBundle string         `json:"modelBundle"`
	Layers      []sessionLayer `json:"layers"`
	// Lesions names the lesion table file, or is "" when the tumor layer has no mask.
	Lesions string      `json:"lesions"`
	View    sessionView `json:"view"`
}

// sessionSource is the scan that the masks belong to.
type sessionSource struct {
	// Kind is sourceNIfTI, sourceDICOM or sourceDemo.
	Kind string `json:"kind"`
	// Path is the NIfTI file or the DICOM folder, absolute or relative to the session
	// folder. It is "" for the demo case.
	Path string `json:"path"`
	// SeriesKey is the image stack of a DICOM folder with several, or "".
	SeriesKey string `json:"seriesKey"`
	// VoxelFingerprint is scanFingerprint of the scan, so that a scan changed in
	// place on the same grid is detected. Sessions written before it existed lack it.
	VoxelFingerprint string `json:"voxelFingerprint,omitempty"`
}

// fingerprintStride is the step between the voxels that scanFingerprint hashes: a
// prime, so that the samples do not line up with rows or slices.
const fingerprintStride = 257

// scanFingerprint hashes every 257th voxel value of ct, about 0.4 % of them: enough to
// tell two scans apart, and fast enough to run at every autosave.
func scanFingerprint(ct *volume.Volume) string {
	h := sha256.New()
	var b [4]byte
	for n := 0; n < len(ct.Voxels); n += fingerprintStride {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(ct.Voxels[n]))
		h.Write(b[:])
	}
	return "sha256-every-257th:" + hex.EncodeToString(h.Sum(nil))
}

// sessionGrid is the scan's grid, so that a changed or replaced scan is detected.
type sessionGrid struct {
	Size      [3]int        `json:"size"`
	SpacingMM [3]float64    `json:"spacingMM"`
	OriginLPS [3]float64    `json:"originLPS"`
	AxesLPS   [3][3]float64 `json:"axesLPS"`
}

// sessionLayer is one overlay layer: its mask file and display settings.
type sessionLayer struct {
	// Name is one of the overlays layer names, such as "Tumor".
	Name string `json:"name"`
	// File is the mask's file name inside the session folder, or "" for a layer
	// without a mask.
	File    string  `json:"file"`
	Visible bool    `json:"visible"`
	Opacity float64 `json:"opacity"`
	// Style is "fill" or "outline".
	Style string `json:"style"`
}

// sessionView is the view state: the cursor, which sets the slice of every view, the
// window, each view's zoom and pan, the layout and the active layer of the edit tools.
type sessionView struct {
	CursorIndex   [3]int                     `json:"cursorIndex"`
	WindowWidthHU float64                    `json:"windowWidthHU"`
	WindowLevelHU float64                    `json:"windowLevelHU"`
	Views         map[string]sessionViewZoom `json:"views"`
	Maximized     string                     `json:"maximized"`
	ActiveLayer   string                     `json:"activeLayer"`
}

// sessionViewZoom is one view's magnification and pan offset in widget units.
type sessionViewZoom struct {
	Zoom float64 `json:"zoom"`
	PanX float64 `json:"panX"`
	PanY float64 `json:"panY"`
}

// Style names in session.json.
const (
	styleFill    = "fill"
	styleOutline = "outline"
)

// layerFileNames are the mask file names of the standard layers, the same names that
// protrude segment writes.
var layerFileNames = map[string]string{
	overlays.KidneyName:     "kidney.nii.gz",
	overlays.ProtrusionName: "protrusion.nii.gz",
	overlays.TumorName:      "tumor.nii.gz",
	overlays.BaseTumorName:  "base_tumor.nii.gz",
}

// viewNames are the keys of sessionView.Views and the values of Maximized.
var viewNames = map[viewer.Orientation]string{viewer.Axial: "axial", viewer.Coronal: "coronal", viewer.Sagittal: "sagittal"}

func gridToSession(g volume.Grid) sessionGrid {
	return sessionGrid{Size: g.Size, SpacingMM: g.SpacingMM, OriginLPS: g.OriginLPS,
		AxesLPS: [3][3]float64{g.AxesLPS[0], g.AxesLPS[1], g.AxesLPS[2]}}
}

func (g sessionGrid) grid() volume.Grid {
	return volume.Grid{Size: g.Size, SpacingMM: g.SpacingMM, OriginLPS: g.OriginLPS,
		AxesLPS: [3]volume.Vec3{g.AxesLPS[0], g.AxesLPS[1], g.AxesLPS[2]}}
}

// encodeSession returns session.json as indented JSON.
func encodeSession(s *sessionFile) ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// readSessionFile reads and checks the session.json of the session folder dir. dir may
// also be the path of session.json itself. Errors name the file, the field and the value.
func readSessionFile(dir string) (*sessionFile, string, error) {
	path := dir
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		path = filepath.Join(dir, sessionFileName)
	} else {
		dir = filepath.Dir(dir)
	}
	f, err := nifti.OpenRegular(path)
	if err != nil {
		return nil, "", fmt.Errorf("open session: %w", err)
	}
	defer f.Close()
	s, err := decodeSession(f)
	if err != nil {
		return nil, "", fmt.Errorf("read session %s: %w", path, err)
	}
	return s, dir, nil
}

// decodeSession parses session.json and checks every field.
func decodeSession(r io.Reader) (*sessionFile, error) {
	var s sessionFile
	if err := strictjson.DecodeComplete(r, maxSessionFileBytes, &s, "session object"); err != nil {
		return nil, err
	}
	if s.Format != sessionFormatName {
		return nil, fmt.Errorf("format is %q, want %q", s.Format, sessionFormatName)
	}
	if s.Version != sessionFormatVersion {
		return nil, fmt.Errorf("version %d is not supported, want %d", s.Version, sessionFormatVersion)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// check validates the fields after the format and version.
func (s *sessionFile) check() error {
	switch s.Source.Kind {
	case sourceNIfTI, sourceDICOM:
		if s.Source.Path == "" {
			return fmt.Errorf("source.path is empty, want the %s scan's path", s.Source.Kind)
		}
	case sourceDemo:
	default:
		return fmt.Errorf("source.kind is %q, want %q, %q or %q", s.Source.Kind, sourceNIfTI, sourceDICOM, sourceDemo)
	}
	if s.Source.SeriesKey != "" && s.Source.Kind != sourceDICOM {
		return fmt.Errorf("source.seriesKey is %q, but only a %q source has one", s.Source.SeriesKey, sourceDICOM)
	}
	if err := s.Grid.grid().Validate(); err != nil {
		return fmt.Errorf("grid is invalid: %w", err)
	}

	seen := map[string]bool{}
	for n, l := range s.Layers {
		file, known := layerFileNames[l.Name]
		if !known {
			return fmt.Errorf("layers[%d].name is %q, want one of %q", n, l.Name, standardLayerNames())
		}
		if seen[l.Name] {
			return fmt.Errorf("layers[%d].name %q appears twice", n, l.Name)
		}
		seen[l.Name] = true
		if l.File != "" && l.File != file {
			return fmt.Errorf("layers[%d].file is %q, want %q or \"\" for the %s layer", n, l.File, file, l.Name)
		}
		if !(l.Opacity >= 0 && l.Opacity <= 1) {
			return fmt.Errorf("layers[%d].opacity is %v, want a value from 0 to 1", n, l.Opacity)
		}
		if l.Style != styleFill && l.Style != styleOutline {
			return fmt.Errorf("layers[%d].style is %q, want %q or %q", n, l.Style, styleFill, styleOutline)
		}
	}
	if s.Lesions != "" && s.Lesions != sessionLesionsFile {
		return fmt.Errorf("lesions is %q, want %q or \"\"", s.Lesions, sessionLesionsFile)
	}
	return s.View.check(s.Grid.Size)
}

// Bounds of the view fields. CT values span about -1024 to 3071 HU (4095 with some
// scanners' metal ranges), so windows beyond 100,000 HU are corrupt. A pan beyond a
// million screen units moves the slice far off any screen.
const (
	minWindowWidthHU = 1e-3
	maxWindowHU      = 1e5
	maxPanOffset     = 1e6
)

func (v *sessionView) check(size [3]int) error {
	for a := 0; a < 3; a++ {
		if v.CursorIndex[a] < 0 || v.CursorIndex[a] >= size[a] {
			return fmt.Errorf("view.cursorIndex is %v, want an index inside the grid size %v", v.CursorIndex, size)
		}
	}
	if !(v.WindowWidthHU >= minWindowWidthHU && v.WindowWidthHU <= maxWindowHU) {
		return fmt.Errorf("view.windowWidthHU is %v, want a width from %g to %g HU", v.WindowWidthHU, minWindowWidthHU, maxWindowHU)
	}
	if !(math.Abs(v.WindowLevelHU) <= maxWindowHU) {
		return fmt.Errorf("view.windowLevelHU is %v, want a level from %g to %g HU", v.WindowLevelHU, -maxWindowHU, maxWindowHU)
	}
	for name, z := range v.Views {
		if !knownViewName(name) {
			return fmt.Errorf("view.views has the key %q, want \"axial\", \"coronal\" or \"sagittal\"", name)
		}
		if !(z.Zoom >= viewer.MinZoom && z.Zoom <= viewer.MaxZoom) {
			return fmt.Errorf("view.views.%s.zoom is %v, want a value from %g to %g", name, z.Zoom, viewer.MinZoom, viewer.MaxZoom)
		}
		for field, x := range map[string]float64{"panX": z.PanX, "panY": z.PanY} {
			if !(math.Abs(x) <= maxPanOffset) {
				return fmt.Errorf("view.views.%s.%s is %v, want an offset from %g to %g", name, field, x, -maxPanOffset, maxPanOffset)
			}
		}
	}
	if v.Maximized != "" && !knownViewName(v.Maximized) {
		return fmt.Errorf("view.maximized is %q, want \"\", \"axial\", \"coronal\" or \"sagittal\"", v.Maximized)
	}
	if _, known := layerFileNames[v.ActiveLayer]; !known {
		return fmt.Errorf("view.activeLayer is %q, want one of %q", v.ActiveLayer, standardLayerNames())
	}
	return nil
}

func knownViewName(name string) bool {
	for _, n := range viewNames {
		if n == name {
			return true
		}
	}
	return false
}

// standardLayerNames returns the names of the standard layers in drawing order.
func standardLayerNames() []string {
	var names []string
	for _, l := range defaultViewerLayers() {
		names = append(names, l.Name)
	}
	return names
}

// sourcePath returns the source path with a relative path resolved against the
// session folder dir.
func (s *sessionFile) sourcePath(dir string) string {
	if s.Source.Path == "" || filepath.IsAbs(s.Source.Path) {
		return s.Source.Path
	}
	return filepath.Join(dir, s.Source.Path)
}

// writeSessionJSON writes session.json into dir atomically.
func writeSessionJSON(dir string, s *sessionFile) error {
	data, err := encodeSession(s)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	path := filepath.Join(dir, sessionFileName)
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// styleName returns the session name of a layer style.
func styleName(s overlays.Style) string {
	if s == overlays.Outline {
		return styleOutline
	}
	return styleFill
}

// looksLikeSession reports whether path is a session folder or a session.json file.
func looksLikeSession(path string) bool {
	if strings.EqualFold(filepath.Base(path), sessionFileName) {
		return true
	}
	_, err := os.Stat(filepath.Join(path, sessionFileName))
	return err == nil
}
