package dicomseries

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"

	"protrude/volume"
)

// fileJob is one file of a stack to decode: for each of its frames in the stack,
// the frame index within the file and the frame's index in the sorted stack.
type fileJob struct {
	path   string
	frames []frameSlot
}

type frameSlot struct {
	frameIndex int
	stackIndex int
}

func (c *Catalog) load(st *Stack) (*volume.Volume, error) {
	jobs, err := c.fileJobs(st)
	if err != nil {
		return nil, err
	}
	plan := st.plan
	first := st.frames[0]
	out := volume.NewVolume(plan.grid)
	plane := first.rows * first.columns

	// A direct stack decodes into the volume. Otherwise the frames are decoded into
	// one buffer and resampled from there.
	target := out.Voxels
	if !plan.direct {
		target = make([]float32, len(st.frames)*plane)
	}
	err = c.decodeFiles(st, jobs, func(s *slice, k int) error {
		s.decodeInto(target[k*plane : (k+1)*plane])
		return nil
	})
	if err != nil {
		return nil, err
	}

	if !plan.direct {
		frames := make([][]float32, len(st.frames))
		for k := range frames {
			frames[k] = target[k*plane : (k+1)*plane]
		}
		plan.resampleInto(out, frames, first.rows, first.columns)
	}
	return out, nil
}

// loadInt16 is load for a stack whose values int16 holds exactly (see LoadInt16).
func (c *Catalog) loadInt16(st *Stack) (*volume.Int16Volume, error) {
	jobs, err := c.fileJobs(st)
	if err != nil {
		return nil, err
	}
	if err := st.checkInt16(); err != nil {
		return nil, err
	}
	out := &volume.Int16Volume{Grid: st.plan.grid, Voxels: make([]int16, st.plan.grid.NumVoxels())}
	plane := st.frames[0].rows * st.frames[0].columns
	err = c.decodeFiles(st, jobs, func(s *slice, k int) error {
		if err := s.decodeInt16Into(out.Voxels[k*plane : (k+1)*plane]); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fileJobs checks that st can be loaded and groups its frames by file, so that each
// file is read once.
func (c *Catalog) fileJobs(st *Stack) ([]*fileJob, error) {
	if st.Err != nil {
		return nil, st.Err
	}
	if err := c.failedBeside(st); err != nil {
		return nil, err
	}
	var jobs []*fileJob
	byPath := map[string]*fileJob{}
	for k, s := range st.frames {
		job := byPath[s.path]
		if job == nil {
			job = &fileJob{path: s.path}
			byPath[s.path] = job
			jobs = append(jobs, job)
		}
		job.frames = append(job.frames, frameSlot{frameIndex: s.frameIndex, stackIndex: k})
	}
	return jobs, nil
}

// frameDecoder decodes frame s, whose pixelData are set, into stack position
// stackIndex. It is called from several goroutines at once.
type frameDecoder func(s *slice, stackIndex int) error

// decodeFiles decodes the frames of every job, one file per CPU at a time, and
// returns the first error in job order.
func (c *Catalog) decodeFiles(st *Stack, jobs []*fileJob, decode frameDecoder) error {
	errs := make([]error, len(jobs))
	parallelFor(len(jobs), func(n int) {
		errs[n] = c.decodeFile(st, jobs[n], decode)
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// decodeFile reads one file and passes each of its frames in the stack to decode.
// A file whose header Scan parsed up to a native PixelData element is not parsed
// again (see decodeScannedFile). Other files are parsed again, and they fail when
// their frames no longer lie where Scan found them.
func (c *Catalog) decodeFile(st *Stack, job *fileJob, decode frameDecoder) error {
	first := st.frames[job.frames[0].stackIndex]
	if first.scanned != nil && isWalkableNative(first.transferSyntax) {
		return c.decodeScannedFile(st, job, decode)
	}

	name := displayName(c.Dir, job.path)
	buffer := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(buffer)
	content, err := readFileInto(job.path, buffer)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	f, err := parseForDecode(name, content)
	if err != nil {
		return err
	}
	if err := f.requireImage(); err != nil {
		return err
	}
	if f.pixelErr != nil {
		return fmt.Errorf("%s: %w", name, f.pixelErr)
	}
	for _, slot := range job.frames {
		scanned := st.frames[slot.stackIndex]
		if slot.frameIndex >= len(f.frames) || f.frames[slot.frameIndex].positionLPS != scanned.positionLPS {
			return fmt.Errorf("%s changed after the folder was scanned; scan it again: %w", name, ErrMalformed)
		}
		if err := decode(f.frames[slot.frameIndex], slot.stackIndex); err != nil {
			return err
		}
	}
	return nil
}

// decodeScannedFile reads the file of job from its PixelData element to the end and
// decodes the frames with the header elements Scan read, so the header is read and
// parsed only once. It fails when the file's size or modification time differs from
// what Scan saw.
func (c *Catalog) decodeScannedFile(st *Stack, job *fileJob, decode frameDecoder) error {
	name := displayName(c.Dir, job.path)
	first := st.frames[job.frames[0].stackIndex]
	scanned := first.scanned
	file, err := os.Open(job.path)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if info.Size() != scanned.size || !info.ModTime().Equal(scanned.modTime) {
		return fmt.Errorf("%s changed after the folder was scanned (size %d bytes, modified %s; the scan saw %d bytes, modified %s); scan it again: %w",
			name, info.Size(), info.ModTime().Format(time.RFC3339Nano), scanned.size, scanned.modTime.Format(time.RFC3339Nano), ErrMalformed)
	}

	buffer := readBuffers.Get().(*[]byte)
	defer readBuffers.Put(buffer)
	size := int(scanned.size) - scanned.pixelDataAt
	if cap(*buffer) < size {
		*buffer = make([]byte, size)
	}
	content := (*buffer)[:size]
	if _, err := file.ReadAt(content, int64(scanned.pixelDataAt)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	frameData, err := nativeFrameData(name, content, 0, first)
	if err != nil {
		return err
	}
	for _, slot := range job.frames {
		frame := *st.frames[slot.stackIndex]
		frame.pixelData = frameData[slot.frameIndex]
		if err := decode(&frame, slot.stackIndex); err != nil {
			return err
		}
	}
	return nil
}

// isWalkableNative reports whether pixel data in syntax are native samples that
// follow the PixelData element header directly, so that every transfer syntax but
// deflate and the compressed ones.
func isWalkableNative(syntax string) bool {
	_, native := nativeTransferSyntaxes[syntax]
	return native && syntax != uid.DeflatedExplicitVRLittleEndian
}

// failedBeside returns an error when a file that failed to parse, of st's series or
// of an unknown one, sits in the same folder as a file of st.
func (c *Catalog) failedBeside(st *Stack) error {
	if len(c.Failed) == 0 {
		return nil
	}
	folders := map[string]bool{}
	for _, s := range st.frames {
		folders[filepath.Dir(s.path)] = true
	}
	for n, path := range c.failedPaths {
		series := c.failedSeries[n]
		if folders[filepath.Dir(path)] && (series == "" || series == st.SeriesInstanceUID) {
			return fmt.Errorf("a file beside the series could not be read, and it may be one of its slices: %w", c.Failed[n])
		}
	}
	return nil
}

// readBuffers holds file buffers for reuse between files, so that loading a series
// does not allocate, and the garbage collector does not clear, one buffer per file.
var readBuffers = sync.Pool{New: func() any { return new([]byte) }}

// readFileInto reads the file at path into *buffer, growing it when needed, and
// returns the content.
func readFileInto(path string, buffer *[]byte) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	size := int(info.Size())
	if cap(*buffer) < size {
		*buffer = make([]byte, size)
	}
	content := (*buffer)[:size]
	if _, err := io.ReadFull(file, content); err != nil {
		return nil, err
	}
	return content, nil
}

// parseForDecode parses a whole file for decoding. A file with native pixel data is
// parsed only up to its top-level PixelData element, and its frames take their
// samples straight from content, which saves a copy of the pixel data. Other files
// go through parseFile. The frames refer to content, so content must not change
// until they are decoded.
func parseForDecode(name string, content []byte) (*parsedFile, error) {
	syntax, _ := metaTransferSyntax(content)
	at, found := headerEnd(content, len(content))
	if !found || !isWalkableNative(syntax) {
		return parseFile(name, content)
	}
	f, err := parseHeader(name, content[:at])
	if err != nil || f.kind != kindImage || f.pixelErr != nil {
		return f, err
	}
	frameData, err := nativeFrameData(name, content, at, f.frames[0])
	if err != nil {
		return nil, err
	}
	for n, s := range f.frames {
		s.pixelData = frameData[n]
	}
	return f, nil
}

// nativeFrameData returns the samples of each frame of a file with native pixel
// data, whose top-level PixelData element header starts at byte pos of content.
// The pixel format, frame count and transfer syntax come from first, a frame of the
// file. The returned slices refer to content.
func nativeFrameData(name string, content []byte, pos int, first *slice) ([][]byte, error) {
	w := lengthWalker{content: content, pos: pos, order: nativeTransferSyntaxes[first.transferSyntax], implicit: first.transferSyntax == uid.ImplicitVRLittleEndian}
	h, err := w.next()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if h.tag != tag.PixelData {
		return nil, fmt.Errorf("%s: element %s lies where %s was found; scan the folder again: %w", name, elementName(h.tag), elementName(tag.PixelData), ErrMalformed)
	}
	if h.length == undefinedLength {
		return nil, fmt.Errorf("%s: %s is encapsulated (compressed) although the transfer syntax is native: %w", name, elementName(tag.PixelData), ErrMalformed)
	}
	frameBytes := first.rows * first.columns * first.bitsAllocated / 8
	if need := frameBytes * first.numberOfFrames; int(h.length) < need {
		frames := ""
		if first.numberOfFrames > 1 {
			frames = fmt.Sprintf(" × %d frames", first.numberOfFrames)
		}
		return nil, fmt.Errorf("%s: %s is %d bytes, but %d rows × %d columns%s × %d bits need %d: %w",
			name, elementName(tag.PixelData), h.length, first.rows, first.columns, frames, first.bitsAllocated, need, ErrMalformed)
	}
	data := make([][]byte, first.numberOfFrames)
	for n := range data {
		data[n] = content[w.pos+n*frameBytes : w.pos+(n+1)*frameBytes]
	}
	return data, nil
}
