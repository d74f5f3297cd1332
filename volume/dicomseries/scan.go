package dicomseries

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"

	"protrude/volume"
)

// Catalog lists what a folder scan found: image stacks that can become volumes,
// segmentations, and the files that were skipped or failed.
type Catalog struct {
	// Dir is the scanned folder.
	Dir string
	// Stacks are the image stacks, most images first within each series.
	Stacks []*Stack
	// Segmentations are DICOM SEG objects, listed but not loaded.
	Segmentations []Segmentation
	// Skipped lists files that were not read, each with the reason: not DICOM, not
	// an image (such as a structured report, RT plan or presentation state), or a
	// second copy of an instance already read.
	Skipped []string
	// NonDICOM is the number of files in Skipped that are not DICOM at all.
	NonDICOM int
	// Failed lists DICOM files that could not be parsed. Each error names the file.
	// A stack does not load when a failed file of the same or an unknown series
	// sits in the same folder as one of its files, because the failed file may be
	// one of its slices.
	Failed []error

	// failedPaths[n] is the path of the file of Failed[n], and failedSeries[n] its
	// SeriesInstanceUID, or "" when the file failed before it was read.
	failedPaths  []string
	failedSeries []string
}

// Stack is the frames of one series that share orientation and image size: one
// volume. A series with a localizer in another orientation gives two stacks.
type Stack struct {
	// Key identifies the stack: the SeriesInstanceUID for the stack of a series
	// with the most images, followed by "#2", "#3" and so on for further stacks of
	// the same series.
	Key               string
	SeriesInstanceUID string
	SeriesDescription string
	Modality          string
	// TransferSyntaxUID is that of the first file of the stack.
	TransferSyntaxUID string
	// NumImages is the number of frames (slices), and NumFiles the number of files.
	NumImages int
	NumFiles  int
	// Grid is the grid of the volume Load returns. It is zero when Err is set.
	Grid volume.Grid
	// Warnings are shown to the user with the loaded volume.
	Warnings []string
	// Err, when set, is why the stack cannot be loaded.
	Err error

	frames []*slice
	plan   *stackPlan
}

// missingSeriesKey is the SeriesInstanceUID given to images that have none, such as
// some anonymised files.
const missingSeriesKey = "no-series-uid"

// Segmentation is a DICOM SEG object found by a scan.
type Segmentation struct {
	Path              string
	SeriesInstanceUID string
	SeriesDescription string
	NumFrames         int
}

// Scan walks dir and its subfolders and groups the DICOM images it finds into
// stacks: by SeriesInstanceUID, then by ImageOrientationPatient and image size.
// Hidden files and folders and DICOMDIR files are ignored. A file counts as DICOM
// when its first 132 bytes hold the "DICM" marker or a dataset's first element
// header, so other files cost one small read. Files are parsed in parallel, one
// goroutine per CPU, and their pixel data are not kept.
func Scan(dir string) (*Catalog, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if path != dir && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || strings.EqualFold(name, "DICOMDIR") {
			return nil
		}
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dicomseries: scan %s: %w", dir, err)
	}
	sort.Strings(paths)

	c := &Catalog{Dir: dir}
	files := make([]*parsedFile, len(paths))
	errs := make([]error, len(paths))
	notDICOM := make([]bool, len(paths))
	failedSeries := make([]string, len(paths))
	parallelFor(len(paths), func(n int) {
		name := displayName(dir, paths[n])
		ok, err := sniffFile(paths[n])
		if err != nil {
			errs[n] = fmt.Errorf("%s: %w", name, err)
			return
		}
		if !ok {
			notDICOM[n] = true
			return
		}
		f, err := scanFile(paths[n], name)
		if err != nil {
			errs[n] = err
			if f != nil {
				failedSeries[n] = cmp.Or(f.seriesUID, missingSeriesKey)
			}
			return
		}
		// Keep the geometry but drop the pixel data, because Load reads the files again.
		for i, s := range f.frames {
			s.path, s.frameIndex, s.pixelData, s.scanned = paths[n], i, nil, f.scanned
		}
		files[n] = f
	})

	for n, path := range paths {
		name := displayName(dir, path)
		switch {
		case errs[n] != nil:
			c.Failed = append(c.Failed, errs[n])
			c.failedPaths = append(c.failedPaths, path)
			c.failedSeries = append(c.failedSeries, failedSeries[n])
		case notDICOM[n]:
			c.NonDICOM++
			c.Skipped = append(c.Skipped, name+": not DICOM (no \"DICM\" marker at byte 128 and no DICOM element at byte 0)")
		case files[n].kind == kindSegmentation:
			f := files[n]
			c.Segmentations = append(c.Segmentations, Segmentation{Path: path, SeriesInstanceUID: f.seriesUID, SeriesDescription: f.seriesDescription, NumFrames: f.numberOfFrames})
		case files[n].kind == kindNonImage:
			c.Skipped = append(c.Skipped, fmt.Sprintf("%s: %s, not an image (no %s)", name, sopClassName(files[n].sopClassUID), elementName(tag.PixelData)))
		}
	}
	c.groupStacks(files)
	return c, nil
}

// displayName returns path relative to dir, for messages.
func displayName(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil {
		return rel
	}
	return path
}

// sopClassName returns a SOP Class UID with its name, such as
// "1.2.840.10008.5.1.4.1.1.88.22 (Enhanced SR Storage)".
func sopClassName(u string) string {
	if u == "" {
		return "no " + elementName(tag.SOPClassUID)
	}
	if info, err := uid.Lookup(u); err == nil {
		return fmt.Sprintf("%s (%s)", u, info.Name)
	}
	return u
}

// copyRank returns 0 for a file with native pixel data, 1 for compressed pixel
// data that can be decoded and 2 for pixel data that cannot.
func copyRank(f *parsedFile) int {
	if f.pixelErr != nil {
		return 2
	}
	if _, native := nativeTransferSyntaxes[f.transferSyntax]; !native {
		return 1
	}
	return 0
}

// groupStacks sorts the frames of image files into stacks and plans each stack's
// grid.
func (c *Catalog) groupStacks(files []*parsedFile) {
	// seen maps each SOPInstanceUID to the file that first had it.
	seen := map[string]string{}
	bySeries := map[string][]*Stack{}
	var seriesOrder []string
	// Of two copies of an instance the first in this order is kept: native pixel
	// data, then compressed pixel data that package dicomcodec decodes, then the
	// rest, because a compressed copy may be lossy.
	ordered := make([]*parsedFile, 0, len(files))
	for _, rank := range []int{0, 1, 2} {
		for _, f := range files {
			if f != nil && f.kind == kindImage && copyRank(f) == rank {
				ordered = append(ordered, f)
			}
		}
	}
	for _, f := range ordered {
		if f.sopInstanceUID != "" {
			if first, ok := seen[f.sopInstanceUID]; ok {
				c.Skipped = append(c.Skipped, fmt.Sprintf("%s: same %s as %s, so it is a second copy of that instance (this copy has %s %s)",
					f.name, elementName(tag.SOPInstanceUID), first, elementName(tag.TransferSyntaxUID), transferSyntaxName(f.transferSyntax)))
				continue
			}
			seen[f.sopInstanceUID] = f.name
		}
		if f.seriesUID == "" {
			f.seriesUID = missingSeriesKey
		}
		if _, ok := bySeries[f.seriesUID]; !ok {
			seriesOrder = append(seriesOrder, f.seriesUID)
		}
		st := findStack(bySeries[f.seriesUID], f.frames[0])
		if st == nil {
			st = &Stack{
				SeriesInstanceUID: f.seriesUID,
				SeriesDescription: f.seriesDescription,
				Modality:          f.modality,
				TransferSyntaxUID: f.transferSyntax,
			}
			bySeries[f.seriesUID] = append(bySeries[f.seriesUID], st)
		}
		st.NumFiles++
		if f.seriesUID == missingSeriesKey && st.NumFiles == 1 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s is missing, so all images without it that share orientation and size were taken as one series", elementName(tag.SeriesInstanceUID)))
		}
		if f.inferredSyntax != "" {
			st.Warnings = append(st.Warnings, fmt.Sprintf("%s has no %s; it was read as %s", f.name, elementName(tag.TransferSyntaxUID), transferSyntaxName(f.inferredSyntax)))
		}
		if f.pixelErr != nil && st.Err == nil {
			st.Err = fmt.Errorf("%s: %w", f.name, f.pixelErr)
		}
		for _, s := range f.frames {
			// All frames of a file join the file's stack. checkConsistent rejects
			// frames whose orientation differs from the first.
			st.frames = append(st.frames, s)
		}
	}

	for _, uid := range seriesOrder {
		stacks := bySeries[uid]
		sort.SliceStable(stacks, func(a, b int) bool { return len(stacks[a].frames) > len(stacks[b].frames) })
		for n, st := range stacks {
			st.Key = uid
			if n > 0 {
				st.Key = fmt.Sprintf("%s#%d", uid, n+1)
			}
			st.NumImages = len(st.frames)
			st.prepare()
			c.Stacks = append(c.Stacks, st)
		}
	}
}

// findStack returns the stack in stacks whose orientation and image size match s.
func findStack(stacks []*Stack, s *slice) *Stack {
	for _, st := range stacks {
		first := st.frames[0]
		if first.rows != s.rows || first.columns != s.columns {
			continue
		}
		same := true
		for c := 0; c < 6; c++ {
			same = same && math.Abs(first.orientation[c]-s.orientation[c]) <= directionTolerance
		}
		if same {
			return st
		}
	}
	return nil
}

// prepare checks the stack's frames, plans its grid and collects its warnings.
func (st *Stack) prepare() {
	if err := checkConsistent(st.frames); err != nil && st.Err == nil {
		st.Err = err
	}
	if st.Err != nil {
		return
	}
	plan, err := planStack(st.frames)
	if err != nil {
		st.Err = err
		return
	}
	st.plan = plan
	st.Grid = plan.grid
	st.Warnings = append(append(inputWarnings(st.frames), plan.warnings...), st.Warnings...)
}

// inputWarnings returns warnings about the kind of image: not CT, no rescale, or a
// contrast agent.
func inputWarnings(frames []*slice) []string {
	var warnings []string
	first := frames[0]
	if first.modality != "CT" {
		warnings = append(warnings, fmt.Sprintf("Modality is %q, not CT: the values may not be Hounsfield units and the model was trained on CT only", first.modality))
	}
	if !first.hasRescale {
		warnings = append(warnings, "RescaleSlope and RescaleIntercept are absent, so the stored pixel values were used unchanged")
	}
	for _, s := range frames {
		if s.contrastAgent != "" {
			warnings = append(warnings, fmt.Sprintf("ContrastBolusAgent is %q: this series may be contrast-enhanced, but the model expects non-contrast CT", s.contrastAgent))
			break
		}
	}
	return warnings
}

// scanPrefixSize is the number of bytes Scan reads first from each file. It holds
// the header of almost every image, so the pixel data need not be read.
const scanPrefixSize = 64 << 10

// scanFile parses the header of one file for Scan. It reads the whole file only
// when the header does not end within the first scanPrefixSize bytes, or when the
// file needs more than a walk of its element headers (no meta group, no
// TransferSyntaxUID, deflate, or an element length that does not fit).
func scanFile(path, name string) (*parsedFile, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if info.Size() > math.MaxInt32 {
		return nil, fmt.Errorf("%s: the file is %d bytes, more than the 2 GiB this package reads: %w", name, info.Size(), ErrUnsupported)
	}
	size := int(info.Size())
	prefix := make([]byte, min(size, scanPrefixSize))
	if _, err := io.ReadFull(file, prefix); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	at, found := headerEnd(prefix, size)
	if len(prefix) == size || found {
		var f *parsedFile
		if len(prefix) == size {
			f, err = parseFile(name, prefix)
		} else {
			f, err = parseHeader(name, prefix[:at])
		}
		if err == nil && found {
			f.scanned = &scannedFile{pixelDataAt: at, size: info.Size(), modTime: info.ModTime()}
		}
		return f, err
	}

	content := make([]byte, size)
	copy(content, prefix)
	if _, err := io.ReadFull(file, content[len(prefix):]); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return parseFile(name, content)
}

// headerEnd returns the offset of the top-level PixelData element of a Part 10 file
// of size bytes whose first bytes are prefix, when that element starts inside
// prefix and every element length before it fits in the file.
func headerEnd(prefix []byte, size int) (int, bool) {
	if !hasDICMPrefix(prefix) {
		return 0, false
	}
	syntax, ok := metaTransferSyntax(prefix)
	if !ok {
		return 0, false
	}
	w := lengthWalker{content: prefix, pos: sniffSize, order: binary.LittleEndian, fileSize: size}
	for w.pos+4 <= len(prefix) && binary.LittleEndian.Uint16(prefix[w.pos:]) == tag.MetadataGroup {
		h, err := w.next()
		if err != nil || h.length == undefinedLength {
			return 0, false
		}
		w.pos += int(h.length)
	}
	switch syntax {
	case uid.ImplicitVRLittleEndian:
		w.implicit = true
	case uid.ExplicitVRBigEndian:
		w.order = binary.BigEndian
	case uid.DeflatedExplicitVRLittleEndian:
		return 0, false
	}
	at, err := w.findPixelData()
	if err != nil || at < 0 || at > len(prefix) {
		return 0, false
	}
	return at, true
}
