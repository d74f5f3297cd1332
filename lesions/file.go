package lesions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"protrude/internal/atomicfile"
	"protrude/internal/strictjson"
	"protrude/volume"
	"protrude/volume/components"
	"protrude/volume/nifti"
)

// File format of a saved lesion table: a JSON object with the format name, version,
// grid size and one object per lesion. A lesion's "runs" lists its voxels as pairs of a
// flat voxel offset (i fastest) and a count of consecutive voxels along i. The other
// measurements are stored for people and other tools to read. [Load] measures them again
// from the mask and takes only the IDs, statuses and voxels from the file.
const (
	// FormatName is the value of the "format" field.
	FormatName = "protrude-lesions"
	// FormatVersion is the value of the "version" field that this package writes and reads.
	FormatVersion = 1
)

// maxFileBytes bounds the size of a lesion file that [Load] reads. A run takes at most
// 22 bytes (two numbers below 2^31 and two commas), so this allows about 3 million runs.
const maxFileBytes = 64 << 20

type fileTable struct {
	Format   string       `json:"format"`
	Version  int          `json:"version"`
	GridSize [3]int       `json:"gridSize"`
	Lesions  []fileLesion `json:"lesions"`
}

type fileLesion struct {
	ID            int     `json:"id"`
	Status        Status  `json:"status"`
	VoxelCount    int     `json:"voxelCount"`
	VolumeML      float64 `json:"volumeML"`
	MaxDiameterMM float64 `json:"maxDiameterMM"`
	MeanHU        float64 `json:"meanHU"`
	BoxMin        [3]int  `json:"boxMin"`
	BoxMax        [3]int  `json:"boxMax"`
	Runs          []int   `json:"runs"`
}

// Save writes the table as JSON to path, atomically: path holds either its old content
// or the complete new table.
func (t *Table) Save(path string) error {
	if t.labeling == nil {
		return fmt.Errorf("lesions: save %s: the table was not made by Measure, Update or Load", path)
	}
	data, err := t.encode()
	if err != nil {
		return fmt.Errorf("lesions: save %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("lesions: save %s: %w", path, err)
	}
	return nil
}

// encode writes the table as JSON with one line per lesion, so that a file stays
// readable although the runs of a large lesion are long.
func (t *Table) encode() ([]byte, error) {
	head, err := json.Marshal(fileTable{Format: FormatName, Version: FormatVersion, GridSize: t.labeling.Grid.Size})
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Write(head[:bytes.LastIndex(head, []byte(`,"lesions"`))])
	buf.WriteString(`,"lesions":[`)
	for c, l := range t.Lesions {
		line, err := json.Marshal(fileLesion{
			ID: l.ID, Status: l.Status, VoxelCount: l.VoxelCount,
			VolumeML: l.VolumeML, MaxDiameterMM: l.MaxDiameterMM, MeanHU: l.MeanHU,
			BoxMin: l.BoundingBox.Min, BoxMax: l.BoundingBox.Max,
			Runs: voxelRuns(t.labeling, c),
		})
		if err != nil {
			return nil, err
		}
		if c > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n  ")
		buf.Write(line)
	}
	buf.WriteString("\n]}\n")
	return buf.Bytes(), nil
}

// Load reads a table saved by [Table.Save], measures tumor and ct as [Measure] does, and
// carries the saved IDs and statuses over to the components by voxel overlap, with the
// rules of [Table.Update]. So a lesion whose voxels are unchanged since the save keeps its
// status, one that changed is Edited, and one that overlaps no saved lesion is new.
//
// A path that is not a regular file, such as a named pipe, is rejected before it is
// opened, as [nifti.OpenRegular] describes.
func Load(path string, tumor *volume.Mask, ct *volume.Volume) (*Table, error) {
	f, err := nifti.OpenRegular(path)
	if err != nil {
		return nil, fmt.Errorf("lesions: %w", err)
	}
	defer f.Close()
	saved, err := decode(f)
	if err != nil {
		return nil, fmt.Errorf("lesions: read %s: %w", path, err)
	}
	if tumor != nil && saved.GridSize != tumor.Size {
		return nil, fmt.Errorf("lesions: read %s: gridSize %v differs from the tumor mask size %v; the file belongs to another scan", path, saved.GridSize, tumor.Size)
	}
	if tumor == nil {
		return nil, errors.New("lesions: no tumor mask")
	}

	previous, err := savedTable(saved, tumor.Grid)
	if err != nil {
		return nil, fmt.Errorf("lesions: read %s: %w", path, err)
	}
	return previous.Update(tumor, ct)
}

// voxelRuns returns the voxels of component c as pairs (flat offset, count) of runs along i.
func voxelRuns(l *components.Labeling, c int) []int {
	box := l.Components[c].BoundingBox
	runs := []int{}
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				if l.ComponentAt(i, j, k) != c {
					continue
				}
				start := i
				for i+1 < box.Max[0] && l.ComponentAt(i+1, j, k) == c {
					i++
				}
				runs = append(runs, l.Grid.Offset(start, j, k), i-start+1)
			}
		}
	}
	return runs
}

// savedTable rebuilds the table of a decoded file, with a labeling made from the saved
// runs, so that [Table.Update] can match the current components to it.
func savedTable(f *fileTable, g volume.Grid) (*Table, error) {
	t := &Table{Lesions: make([]Lesion, len(f.Lesions)), nextID: 1}
	labeling := &components.Labeling{Grid: g, Components: make([]components.Component, len(f.Lesions))}

	// The labeling covers the bounding box of every saved run.
	box := components.Box{Min: g.Size}
	for _, l := range f.Lesions {
		for r := 0; r < len(l.Runs); r += 2 {
			i, j, k := unflatten(l.Runs[r], g.Size)
			lo := [3]int{i, j, k}
			hi := [3]int{i + l.Runs[r+1], j + 1, k + 1}
			for a := 0; a < 3; a++ {
				box.Min[a] = min(box.Min[a], lo[a])
				box.Max[a] = max(box.Max[a], hi[a])
			}
		}
	}
	if !box.Empty() {
		size := box.Size()
		labeling.Box = box
		labeling.Labels = make([]int32, size[0]*size[1]*size[2])
	}

	for n, l := range f.Lesions {
		t.Lesions[n] = Lesion{ID: l.ID, Status: l.Status, VoxelCount: l.VoxelCount}
		t.nextID = max(t.nextID, l.ID+1)
		labeling.Components[n].VoxelCount = l.VoxelCount
		size := box.Size()
		for r := 0; r < len(l.Runs); r += 2 {
			i, j, k := unflatten(l.Runs[r], g.Size)
			row := (i - box.Min[0]) + size[0]*((j-box.Min[1])+size[1]*(k-box.Min[2]))
			for x := row; x < row+l.Runs[r+1]; x++ {
				if other := labeling.Labels[x]; other != 0 {
					return nil, fmt.Errorf("lesions[%d].runs overlap the voxels of lesions[%d]", n, other-1)
				}
				labeling.Labels[x] = int32(n + 1)
			}
		}
	}
	t.labeling = labeling
	return t, nil
}

// unflatten returns the voxel index of a flat offset on a grid of the given size.
func unflatten(offset int, size [3]int) (i, j, k int) {
	return offset % size[0], (offset / size[0]) % size[1], offset / (size[0] * size[1])
}

// decode parses and checks a saved table. Error messages name the JSON field and value.
func decode(r io.Reader) (*fileTable, error) {
	var f fileTable
	if err := strictjson.Decode(r, maxFileBytes, &f, "table object"); err != nil {
		return nil, err
	}

	if f.Format != FormatName {
		return nil, fmt.Errorf("format is %q, want %q", f.Format, FormatName)
	}
	if f.Version != FormatVersion {
		return nil, fmt.Errorf("version %d is not supported, want %d", f.Version, FormatVersion)
	}
	voxels := 1.0
	for a := 0; a < 3; a++ {
		if f.GridSize[a] <= 0 {
			return nil, fmt.Errorf("gridSize %v is invalid, want every axis > 0", f.GridSize)
		}
		voxels *= float64(f.GridSize[a])
	}
	if voxels > maxGridVoxels {
		return nil, fmt.Errorf("gridSize %v has %.3g voxels, more than the limit of %d", f.GridSize, voxels, maxGridVoxels)
	}
	ids := make(map[int]bool)
	for n, l := range f.Lesions {
		if l.ID < 1 || l.ID > MaxID {
			return nil, fmt.Errorf("lesions[%d].id is %d, want 1 to %d", n, l.ID, MaxID)
		}
		if ids[l.ID] {
			return nil, fmt.Errorf("lesions[%d].id %d appears twice", n, l.ID)
		}
		ids[l.ID] = true
		if !l.Status.Valid() {
			return nil, fmt.Errorf("lesions[%d].status is %q, want %q, %q, %q or %q", n, l.Status, Unreviewed, Accepted, Rejected, Edited)
		}
		if err := checkRuns(l, f.GridSize); err != nil {
			return nil, fmt.Errorf("lesions[%d].%w", n, err)
		}
	}
	return &f, nil
}

// maxGridVoxels bounds the grid size in a file, so that flat offsets fit in int32 as
// they do in components.Label.
const maxGridVoxels = math.MaxInt32

// checkRuns checks that a lesion's runs lie inside the grid, stay within one row along
// i, are in increasing order without overlap, and add up to its voxel count. The error
// starts with the field name, for the caller to prefix with the lesion.
func checkRuns(l fileLesion, size [3]int) error {
	if l.VoxelCount <= 0 {
		return fmt.Errorf("voxelCount is %d, want > 0", l.VoxelCount)
	}
	if len(l.Runs)%2 != 0 {
		return fmt.Errorf("runs has %d values, want pairs of offset and count", len(l.Runs))
	}
	total := size[0] * size[1] * size[2]
	end := 0
	sum := 0
	for r := 0; r < len(l.Runs); r += 2 {
		start, count := l.Runs[r], l.Runs[r+1]
		if start < end || start >= total {
			return fmt.Errorf("runs[%d] offset %d is invalid, want increasing offsets from %d below %d", r, start, end, total)
		}
		if count <= 0 || count > size[0]-start%size[0] {
			return fmt.Errorf("runs[%d] count %d is invalid, want a run of at least 1 voxel within its row of %d", r+1, count, size[0])
		}
		end = start + count
		sum += count
	}
	if sum != l.VoxelCount {
		return fmt.Errorf("runs cover %d voxels, but voxelCount is %d", sum, l.VoxelCount)
	}
	return nil
}
