// Package dicomseries reads a folder holding one CT series of single-frame DICOM
// files into a [volume.Volume] of Hounsfield units in LPS patient space.
//
// # Geometry
//
// DICOM patient coordinates are LPS, as in package volume, so no axis changes sign.
// Voxel index i runs along the columns of an image, j along its rows and k across
// slices:
//
//   - AxesLPS[0] is the row cosine of ImageOrientationPatient (the direction of
//     increasing column index), and SpacingMM[0] is PixelSpacing[1], the spacing
//     between columns.
//   - AxesLPS[1] is the column cosine, and SpacingMM[1] is PixelSpacing[0], the
//     spacing between rows.
//   - Slices are sorted by ImagePositionPatient projected on the slice normal (row
//     cosine × column cosine), never by InstanceNumber or file name. AxesLPS[2] is
//     the unit vector from the first to the last slice position, and SpacingMM[2]
//     the median distance between neighbouring slices along it.
//   - OriginLPS is ImagePositionPatient of the first slice.
//
// # Pixels
//
// Package dicomcodec first decodes compressed pixel data to native samples.
// Samples are read from the low BitsStored bits. When PixelRepresentation is 1 they
// are sign-extended from BitsStored bits, because github.com/suyashkumar/dicom
// v1.1.0 returns native samples unsigned. Each slice's RescaleSlope and
// RescaleIntercept then give the value in HU.
//
// # Limits
//
// Errors wrap [ErrMalformed] when a file breaks the standard or the series is
// inconsistent. They wrap [ErrUnsupported] when the series is valid but not handled:
// transfer syntaxes that package dicomcodec does not decode, multi-frame images,
// colour images, a folder with more than one series, gantry tilt and slice spacing
// that varies by more than 1%. Files without the "DICM" marker at byte 128, such
// as DICOM files lacking a file meta header, are skipped.
package dicomseries

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/suyashkumar/dicom/pkg/tag"

	"protrude/volume"
)

var (
	// ErrMalformed marks a file that breaks the DICOM standard or a series whose
	// files are inconsistent with each other.
	ErrMalformed = errors.New("malformed DICOM file or series")
	// ErrUnsupported marks a valid series that uses a feature this package does not
	// read, such as a compressed transfer syntax.
	ErrUnsupported = errors.New("unsupported DICOM series")
)

// Tolerances for comparing geometry between slices.
const (
	// directionTolerance bounds differences between direction cosines and the
	// cosine of the angle allowed between axes that should be orthogonal.
	directionTolerance = 1e-4
	// spacingTolerance is the largest relative deviation of a slice step from the
	// median step.
	spacingTolerance = 0.01
	// pixelSpacingToleranceMM bounds differences in PixelSpacing between slices.
	pixelSpacingToleranceMM = 1e-4
	// duplicateToleranceMM is the smallest step between slices that counts as two
	// distinct positions.
	duplicateToleranceMM = 1e-3
)

// SeriesInfo describes a series that was read. It contains no patient identifiers.
type SeriesInfo struct {
	Modality          string
	SeriesDescription string
	SeriesInstanceUID string
	// NumSlices is the number of DICOM files in the series, which is Size[2].
	NumSlices int
	// Warnings lists findings that do not stop reading but that the user should see,
	// such as a contrast agent or a modality other than CT.
	Warnings []string
}

// ReadDir reads the single-frame DICOM files in dir, which must all belong to one
// series, into a volume in HU. Subfolders, hidden files, DICOMDIR and files without
// the DICOM marker are skipped. Files are parsed in parallel, one goroutine per CPU.
func ReadDir(dir string) (*volume.Volume, *SeriesInfo, error) {
	v, info, err := readDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("dicomseries: read %s: %w", dir, err)
	}
	return v, info, nil
}

func readDir(dir string) (*volume.Volume, *SeriesInfo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var paths []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.EqualFold(name, "DICOMDIR") {
			continue
		}
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		paths = append(paths, filepath.Join(dir, name))
	}

	// Parse every file. A file without the DICM marker is skipped and leaves nil.
	slices := make([]*slice, len(paths))
	errs := make([]error, len(paths))
	parallelFor(len(paths), func(n int) {
		// Check the marker before reading the whole file, so large non-DICOM files in
		// the folder cost one small read.
		if ok, err := fileHasDICMPrefix(paths[n]); err != nil || !ok {
			errs[n] = err
			return
		}
		content, err := os.ReadFile(paths[n])
		if err != nil {
			errs[n] = err
			return
		}
		if !hasDICMPrefix(content) {
			return
		}
		slices[n], errs[n] = parseSlice(filepath.Base(paths[n]), content)
	})
	// Report the first failing file, because the others usually fail the same way.
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	var series []*slice
	for _, s := range slices {
		if s != nil {
			series = append(series, s)
		}
	}
	skipped := len(paths) - len(series)
	if len(series) == 0 {
		return nil, nil, fmt.Errorf("no DICOM files found: %d files checked, none has the \"DICM\" marker at byte 128; choose the folder that contains the series' .dcm files: %w", len(paths), ErrMalformed)
	}

	if err := checkOneSeries(series); err != nil {
		return nil, nil, err
	}
	if err := checkConsistent(series); err != nil {
		return nil, nil, err
	}
	grid, err := sortAndBuildGrid(series)
	if err != nil {
		return nil, nil, err
	}

	v := volume.NewVolume(grid)
	plane := grid.Size[0] * grid.Size[1]
	parallelFor(len(series), func(k int) {
		series[k].decodeInto(v.Voxels[k*plane : (k+1)*plane])
	})
	return v, seriesInfo(series, skipped), nil
}

// parallelFor calls fn(0) to fn(n-1) on up to GOMAXPROCS goroutines and waits.
func parallelFor(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// checkOneSeries rejects files from more than one SeriesInstanceUID.
func checkOneSeries(series []*slice) error {
	counts := map[string]int{}
	var order []string
	for _, s := range series {
		if counts[s.seriesUID] == 0 {
			order = append(order, s.seriesUID)
		}
		counts[s.seriesUID]++
	}
	if len(order) == 1 {
		return nil
	}
	var sizes []string
	for _, u := range order {
		sizes = append(sizes, fmt.Sprint(counts[u]))
	}
	return fmt.Errorf("the folder contains %d series (distinct %s values) with %s files; only a folder with one series is read, so move each series into its own folder: %w",
		len(order), elementName(tag.SeriesInstanceUID), strings.Join(sizes, ", "), ErrUnsupported)
}

// checkConsistent requires every slice to match the first in size, orientation and
// pixel spacing.
func checkConsistent(series []*slice) error {
	first := series[0]
	for _, s := range series[1:] {
		if s.rows != first.rows || s.columns != first.columns {
			return fmt.Errorf("%s: %s × %s is %d × %d, but %s has %d × %d; all slices of a series must have the same size: %w",
				s.name, elementName(tag.Rows), elementName(tag.Columns), s.rows, s.columns, first.name, first.rows, first.columns, ErrMalformed)
		}
		for c := 0; c < 6; c++ {
			if math.Abs(s.orientation[c]-first.orientation[c]) > directionTolerance {
				return fmt.Errorf("%s: %s is %v, but %s has %v; slices with mixed orientations are not one volume: %w",
					s.name, elementName(tag.ImageOrientationPatient), s.orientation, first.name, first.orientation, ErrMalformed)
			}
		}
		for c := 0; c < 2; c++ {
			if math.Abs(s.pixelSpacing[c]-first.pixelSpacing[c]) > pixelSpacingToleranceMM {
				return fmt.Errorf("%s: %s is %v, but %s has %v; all slices of a series must have the same pixel spacing: %w",
					s.name, elementName(tag.PixelSpacing), s.pixelSpacing, first.name, first.pixelSpacing, ErrMalformed)
			}
		}
	}
	return nil
}

// seriesInfo summarises the sorted series and collects warnings.
func seriesInfo(series []*slice, skipped int) *SeriesInfo {
	first := series[0]
	info := &SeriesInfo{
		Modality:          first.modality,
		SeriesDescription: first.seriesDescription,
		SeriesInstanceUID: first.seriesUID,
		NumSlices:         len(series),
	}
	if first.modality != "CT" {
		info.Warnings = append(info.Warnings, fmt.Sprintf("Modality is %q, not CT: the values may not be Hounsfield units and the model was trained on CT only", first.modality))
	}
	if !first.hasRescale {
		info.Warnings = append(info.Warnings, "RescaleSlope and RescaleIntercept are absent, so the stored pixel values were used unchanged")
	}
	for _, s := range series {
		if s.contrastAgent != "" {
			info.Warnings = append(info.Warnings, fmt.Sprintf("ContrastBolusAgent is %q: this series may be contrast-enhanced, but the model expects non-contrast CT", s.contrastAgent))
			break
		}
	}
	if skipped > 0 {
		info.Warnings = append(info.Warnings, fmt.Sprintf("%d files in the folder were skipped because they have no \"DICM\" marker at byte 128", skipped))
	}
	return info
}

// fileHasDICMPrefix reads the first 132 bytes of path and reports whether they end
// with the "DICM" marker.
func fileHasDICMPrefix(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, preambleSize+4)
	if _, err := io.ReadFull(f, head); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, err
	}
	return hasDICMPrefix(head), nil
}
