package dicomseries

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

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
	if st.Err != nil {
		return nil, st.Err
	}
	if err := c.failedBeside(st); err != nil {
		return nil, err
	}

	// Group the frames by file, so that each file is read once.
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
	errs := make([]error, len(jobs))
	parallelFor(len(jobs), func(n int) {
		errs[n] = c.decodeFile(st, jobs[n], func(k int) []float32 { return target[k*plane : (k+1)*plane] })
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
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

// decodeFile reads and parses one file again and decodes its frames into the
// buffers that dst returns for each stack index. It fails when the file no longer
// matches what Scan found.
func (c *Catalog) decodeFile(st *Stack, job *fileJob, dst func(stackIndex int) []float32) error {
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
		f.frames[slot.frameIndex].decodeInto(dst(slot.stackIndex))
	}
	return nil
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
	order, native := nativeTransferSyntaxes[syntax]
	at, found := headerEnd(content, len(content))
	if !found || !native || syntax == uid.DeflatedExplicitVRLittleEndian {
		return parseFile(name, content)
	}
	f, err := parseHeader(name, content[:at])
	if err != nil || f.kind != kindImage || f.pixelErr != nil {
		return f, err
	}

	w := lengthWalker{content: content, pos: at, order: order, implicit: syntax == uid.ImplicitVRLittleEndian}
	h, err := w.next()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if h.length == undefinedLength {
		return nil, fmt.Errorf("%s: %s is encapsulated (compressed) although the transfer syntax is native: %w", name, elementName(tag.PixelData), ErrMalformed)
	}
	first := f.frames[0]
	frameBytes := first.rows * first.columns * first.bitsAllocated / 8
	if need := frameBytes * len(f.frames); int(h.length) < need {
		frames := ""
		if len(f.frames) > 1 {
			frames = fmt.Sprintf(" × %d frames", len(f.frames))
		}
		return nil, fmt.Errorf("%s: %s is %d bytes, but %d rows × %d columns%s × %d bits need %d: %w",
			name, elementName(tag.PixelData), h.length, first.rows, first.columns, frames, first.bitsAllocated, need, ErrMalformed)
	}
	for n, s := range f.frames {
		s.pixelData = content[w.pos+n*frameBytes : w.pos+(n+1)*frameBytes]
	}
	return f, nil
}
