package dicomseries

import (
	"fmt"
	"os"
	"path/filepath"

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
	content, err := os.ReadFile(job.path)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	f, err := parseFile(name, content)
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
