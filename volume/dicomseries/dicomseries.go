// Package dicomseries finds the DICOM image series in a folder and reads one into a
// [volume.Volume] of Hounsfield units in LPS patient space.
//
// [Scan] walks a folder and its subfolders and groups images into stacks: by
// SeriesInstanceUID, then by ImageOrientationPatient and image size, so a localizer
// stored in the same series never becomes part of the volume. [Catalog.Load] reads
// one stack. [ReadDir] does both for a folder with exactly one stack.
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
//   - AxesLPS[2] is the slice normal, row cosine × column cosine. Slices are sorted
//     by ImagePositionPatient projected on the normal, never by InstanceNumber or
//     file name.
//   - OriginLPS is ImagePositionPatient of the first slice, moved in plane for
//     gantry tilt (below).
//
// When every slice lies within 1% of the spacing from a uniform grid, the slices
// are the volume's slices and SpacingMM[2] is (last - first) / (n - 1) along the
// normal, so float jitter such as 3e-15 mm changes nothing. Otherwise the volume is
// resampled onto a grid with the median step as spacing, starting at the first
// slice, and SeriesInfo.Warnings says so:
//
//   - Between two slices at most twice the median step apart, values are
//     interpolated linearly along the normal.
//   - Inside a wider gap, slices are air (-1024 HU): a gap is never stretched away
//     and never interpolated across.
//   - Gantry tilt, where slice positions step at an angle to the normal, is
//     resampled along the normal, with bilinear interpolation in plane, onto a grid
//     widened to cover every slice. Pixels outside every slice are air.
//
// Multi-frame images with functional groups (Enhanced CT, SOP Class
// 1.2.840.10008.5.1.4.1.1.2.1) give one slice per frame: the position comes from
// each frame's PlanePositionSequence, and orientation, pixel spacing and rescale
// from the per-frame or shared functional groups.
//
// # Pixels
//
// Package dicomcodec first decodes encapsulated (compressed) pixel data to native
// samples. Samples are read from bits HighBit-BitsStored+1 to HighBit. When
// PixelRepresentation is 1 they are sign-extended from BitsStored bits, because
// github.com/suyashkumar/dicom v1.1.0 returns native samples unsigned. Each slice's
// own RescaleSlope and RescaleIntercept then give the value in HU as float32, so
// fractional slopes are kept. Stored values equal to PixelPaddingValue, or between
// it and PixelPaddingRangeLimit, become -1024 HU before any interpolation, so
// padding is never blended into tissue.
//
// # Broken files
//
// A file without preamble or file meta group, or whose meta group lacks
// TransferSyntaxUID, is read when its whole dataset parses as explicit VR little
// endian or, failing that, implicit VR little endian. The stack's warnings name
// such files. Element lengths are checked against the file size before parsing, so
// a corrupt length fails with an error and never allocates more than the file.
//
// # Memory and speed
//
// Scan reads the first 64 KiB of each file, and the whole file only when its header
// is longer or cannot be walked, and keeps no pixel data. Load allocates the volume,
// 4 bytes per voxel, and reads each file once, one file per CPU at a time, into
// reused buffers. For a file with native pixel data whose header Scan walked, it
// reads only the pixel data and reuses the header elements that Scan parsed.
// [Catalog.LoadInt16] does the same into 2 bytes per voxel, for stacks that int16
// holds exactly. A stack that needs resampling (irregular spacing, gaps, tilt)
// also holds its source slices as float32, so its peak is 4 bytes per source voxel
// plus 4 per output voxel. A 512×512×1000 int16 series thus needs about 1 GiB plus
// one file per CPU (protrude convert peaked at 1045 MiB resident on it), or about
// 2 GiB when resampled. The DICOM parser copies a compressed file's pixel data, and
// joining fragments into frames copies them again. While it is decoded, such a file
// thus takes about three times its size plus its decoded size.
// Stacks larger than [MaxVoxels] fail in Scan, before any allocation.
//
// # Limits
//
// Errors wrap [ErrMalformed] when a file breaks the standard or the series is
// inconsistent. They wrap [ErrUnsupported] when the series is valid but not handled:
// transfer syntaxes that package dicomcodec does not decode, multi-frame images
// without per-frame functional groups, colour images and slice positions that do
// not lie on one line. DICOM SEG objects are listed by Scan but not loaded.
package dicomseries

import (
	"errors"
	"fmt"
	"io/fs"
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
	// read, such as a transfer syntax that package dicomcodec does not decode.
	ErrUnsupported = errors.New("unsupported DICOM series")
	// ErrMultipleStacks marks a folder with more than one loadable image stack where
	// one was expected. It wraps ErrUnsupported.
	ErrMultipleStacks = fmt.Errorf("more than one image stack: %w", ErrUnsupported)
	// ErrNotInt16 marks a stack that [Catalog.LoadInt16] cannot return exactly as
	// int16, so that [Catalog.Load] must read it.
	ErrNotInt16 = errors.New("the values of the stack are not all int16")
)

// Tolerances for comparing geometry between slices.
const (
	// directionTolerance bounds differences between direction cosines and the
	// cosine of the angle allowed between axes that should be orthogonal.
	directionTolerance = 1e-4
	// spacingTolerance is the largest deviation of a slice from a uniform grid,
	// relative to the slice spacing, that needs no interpolation.
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
	// NumSlices is the number of images (frames) read, which is Size[2] unless the
	// volume was resampled.
	NumSlices int
	// Warnings lists findings that do not stop reading but that the user should see,
	// such as a contrast agent, a modality other than CT, gaps or gantry tilt.
	Warnings []string
}

// ReadDir scans dir (see [Scan]) and loads its image stack, which must be the only
// one that can be loaded. Files are parsed in parallel, one goroutine per CPU.
func ReadDir(dir string) (*volume.Volume, *SeriesInfo, error) {
	c, err := Scan(dir)
	if err != nil {
		return nil, nil, err
	}
	st, err := c.Only()
	if err != nil {
		return nil, nil, err
	}
	return c.Load(st)
}

// Loadable returns the stacks without Err.
func (c *Catalog) Loadable() []*Stack {
	var stacks []*Stack
	for _, st := range c.Stacks {
		if st.Err == nil {
			stacks = append(stacks, st)
		}
	}
	return stacks
}

// Only returns the one loadable stack, or an error that explains why there is none
// or more than one.
func (c *Catalog) Only() (*Stack, error) {
	loadable := c.Loadable()
	switch {
	case len(loadable) == 1:
		return loadable[0], nil
	case len(loadable) > 1:
		keys := make([]string, len(loadable))
		for n, st := range loadable {
			keys[n] = fmt.Sprintf("%s (%d images)", st.Key, st.NumImages)
		}
		return nil, fmt.Errorf("dicomseries: read %s: the folder contains %d image stacks (series, or orientations within a series): %s; choose one by its key: %w",
			c.Dir, len(loadable), strings.Join(keys, ", "), ErrMultipleStacks)
	case len(c.Failed) > 0:
		return nil, fmt.Errorf("dicomseries: read %s: %w", c.Dir, c.Failed[0])
	case len(c.Stacks) > 0:
		return nil, fmt.Errorf("dicomseries: read %s: %w", c.Dir, c.Stacks[0].Err)
	case len(c.Segmentations) > 0:
		return nil, fmt.Errorf("dicomseries: read %s: the folder contains only DICOM segmentations (%s), which are not images: %w", c.Dir, filepath.Base(c.Segmentations[0].Path), ErrUnsupported)
	}
	return nil, fmt.Errorf("dicomseries: read %s: no DICOM images found: %d files checked, %d of them not DICOM; choose the folder that contains the series' .dcm files: %w",
		c.Dir, len(c.Skipped)+len(c.Failed), c.NonDICOM, ErrMalformed)
}

// FileLike returns the path of a file that the scan read (an image, a segmentation
// or a file that failed to parse) and that is the same file as info describes, or ""
// when there is none. A writer can check with it that its output would not replace
// one of its inputs.
func (c *Catalog) FileLike(info fs.FileInfo) string {
	var paths []string
	for _, st := range c.Stacks {
		for _, s := range st.frames {
			paths = append(paths, s.path)
		}
	}
	for _, seg := range c.Segmentations {
		paths = append(paths, seg.Path)
	}
	paths = append(paths, c.failedPaths...)
	for _, path := range paths {
		if other, err := os.Stat(path); err == nil && os.SameFile(info, other) {
			return path
		}
	}
	return ""
}

// Find returns the stack whose Key is key. The largest stack of a series has the
// SeriesInstanceUID as its key.
func (c *Catalog) Find(key string) (*Stack, error) {
	keys := make([]string, len(c.Stacks))
	for n, st := range c.Stacks {
		if st.Key == key {
			return st, nil
		}
		keys[n] = st.Key
	}
	return nil, fmt.Errorf("dicomseries: no image stack %q in %s; the stacks are: %s", key, c.Dir, strings.Join(keys, ", "))
}

// Load reads the pixel data of st, a stack of c, into a volume in HU on st.Grid.
// It fails when st.Err is set, and when a file in the same folder as one of the
// stack's files failed to parse, because that file may be a missing slice.
func (c *Catalog) Load(st *Stack) (*volume.Volume, *SeriesInfo, error) {
	v, err := c.load(st)
	if err != nil {
		return nil, nil, fmt.Errorf("dicomseries: read %s: %w", c.Dir, err)
	}
	return v, c.seriesInfo(st), nil
}

// LoadInt16 reads st as Load does, but into int16 voxels, which take half the
// memory and need no conversion to be written as int16. Every voxel equals the one
// Load returns. When some value would differ, it returns an error wrapping
// ErrNotInt16, and the caller then calls Load. That happens when the stack needs
// resampling or has samples of more than 16 bits, a RescaleSlope other than 1 or a
// RescaleIntercept that is not an integer. It also happens when a rescaled value
// lies outside -32768 to 32767.
func (c *Catalog) LoadInt16(st *Stack) (*volume.Int16Volume, *SeriesInfo, error) {
	v, err := c.loadInt16(st)
	if err != nil {
		return nil, nil, fmt.Errorf("dicomseries: read %s: %w", c.Dir, err)
	}
	return v, c.seriesInfo(st), nil
}

// LoadInt16Slices decodes st as LoadInt16 does, but hands each slice to sink as soon
// as it is decoded instead of keeping the volume, so a writer can store slices while
// others are still being read. Before the first slice it calls grid once with the
// volume's grid. sink gets the slice index k on that grid and Size[0]*Size[1] values,
// i fastest. It is called from several goroutines at once, in no set order, and the
// values are reused after it returns. An error from grid or sink is returned as it
// is; other errors are those of LoadInt16.
func (c *Catalog) LoadInt16Slices(st *Stack, grid func(volume.Grid) error, sink func(k int, values []int16) error) (*SeriesInfo, error) {
	jobs, err := c.fileJobs(st)
	if err == nil {
		err = st.checkInt16()
	}
	if err != nil {
		return nil, fmt.Errorf("dicomseries: read %s: %w", c.Dir, err)
	}
	if err := grid(st.plan.grid); err != nil {
		return nil, err
	}
	plane := st.frames[0].rows * st.frames[0].columns
	buffers := sync.Pool{New: func() any { b := make([]int16, plane); return &b }}
	var sinkErr error
	var once sync.Once
	err = c.decodeFiles(st, jobs, func(s *slice, k int) error {
		b := buffers.Get().(*[]int16)
		defer buffers.Put(b)
		if err := s.decodeInt16Into(*b); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		if err := sink(k, *b); err != nil {
			once.Do(func() { sinkErr = err })
			return err
		}
		return nil
	})
	switch {
	case sinkErr != nil:
		return nil, sinkErr
	case err != nil:
		return nil, fmt.Errorf("dicomseries: read %s: %w", c.Dir, err)
	}
	return c.seriesInfo(st), nil
}

// checkInt16 returns an error wrapping ErrNotInt16 when the frames' parameters do
// not let LoadInt16 give Load's values.
func (st *Stack) checkInt16() error {
	if !st.plan.direct {
		return fmt.Errorf("the stack is resampled onto a regular grid: %w", ErrNotInt16)
	}
	for _, s := range st.frames {
		switch {
		case s.bitsAllocated > 16:
			return fmt.Errorf("%s: %s is %d: %w", s.name, elementName(tag.BitsAllocated), s.bitsAllocated, ErrNotInt16)
		case s.rescaleSlope != 1:
			return fmt.Errorf("%s: %s is %g: %w", s.name, elementName(tag.RescaleSlope), s.rescaleSlope, ErrNotInt16)
		case s.rescaleIntercept != math.Trunc(s.rescaleIntercept) || math.Abs(s.rescaleIntercept) > maxInt16Intercept:
			return fmt.Errorf("%s: %s is %g: %w", s.name, elementName(tag.RescaleIntercept), s.rescaleIntercept, ErrNotInt16)
		}
	}
	return nil
}

// seriesInfo describes st after a load.
func (c *Catalog) seriesInfo(st *Stack) *SeriesInfo {
	info := &SeriesInfo{
		Modality:          st.Modality,
		SeriesDescription: st.SeriesDescription,
		SeriesInstanceUID: st.SeriesInstanceUID,
		NumSlices:         st.NumImages,
		Warnings:          append([]string(nil), st.Warnings...),
	}
	if c.NonDICOM > 0 {
		info.Warnings = append(info.Warnings, fmt.Sprintf("%d files in the folder were skipped because they are not DICOM", c.NonDICOM))
	}
	return info
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
