// Package lesions builds the lesion table of a tumor mask: one row per connected
// component, with its volume, maximum 3D diameter, mean CT value, extent and review
// status.
//
// # Components and identity
//
// A lesion is a 26-connected component of the non-zero voxels of the tumor mask, as
// found by components.Label. Each lesion has an ID that stays with it when the mask is
// edited: [Table.Update] matches the new components to the previous ones by voxel
// overlap, and [Load] matches the components of a mask to the voxels stored in a saved
// table in the same way.
//
// # Review status
//
// A lesion starts [Unreviewed]. The reviewer sets [Accepted] or [Rejected] with
// [Table.SetStatus]. When a lesion's voxels change between two tables (it grows, shrinks,
// splits or merges), its status becomes [Edited], whatever it was. This tells the
// reviewer that its measurements changed, and they can accept or reject it again.
//
// # Measurements
//
// Volume is the voxel count times the voxel volume. The maximum diameter is the largest
// distance between the centres of two voxels of the lesion, in patient space, so a
// single voxel measures 0 mm. The mean CT value is taken from a CT volume on the same
// grid as the mask. The bounding box gives the slice range along each index axis.
package lesions

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"protrude/volume"
	"protrude/volume/components"
)

// Status is the review status of a lesion.
type Status string

const (
	// Unreviewed is the status of a lesion that no one has accepted or rejected.
	Unreviewed Status = "unreviewed"
	// Accepted marks a lesion that the reviewer confirmed.
	Accepted Status = "accepted"
	// Rejected marks a lesion that the reviewer judged a false positive.
	Rejected Status = "rejected"
	// Edited marks a lesion whose voxels changed since the previous table.
	Edited Status = "edited"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	return s == Unreviewed || s == Accepted || s == Rejected || s == Edited
}

// MaxID is the largest lesion ID. [Load] rejects larger IDs, and [Table.Update] never
// hands one out, so that every table it makes can be saved and loaded again.
const MaxID = 1_000_000_000

// Lesion is one row of the lesion table.
type Lesion struct {
	// ID identifies the lesion across edits of the mask. It is from 1 to [MaxID].
	ID int
	// Status is the review status.
	Status Status
	// VoxelCount is the number of voxels of the lesion.
	VoxelCount int
	// VolumeML is the lesion volume in millilitres.
	VolumeML float64
	// MaxDiameterMM is the largest distance between two voxel centres of the lesion, in mm.
	MaxDiameterMM float64
	// MeanHU is the mean CT value over the lesion's voxels, in Hounsfield units.
	MeanHU float64
	// BoundingBox is the half-open range of voxel indices along i, j and k that contains
	// the lesion.
	BoundingBox components.Box
}

// SliceRange returns the first and last slice index, inclusive, that the lesion touches
// along the index axis (0, 1 or 2), such as the axial slices for the axis that
// edit.NearestAxis returns for the superior direction.
func (l Lesion) SliceRange(axis int) (first, last int) {
	return l.BoundingBox.Min[axis], l.BoundingBox.Max[axis] - 1
}

// Table is the lesion table of one tumor mask. Lesions are in the order of their first
// voxel in the mask's flat order.
type Table struct {
	Lesions  []Lesion
	labeling *components.Labeling
	nextID   int
}

// ErrUnknownLesion is wrapped by the error of [Table.SetStatus] for an ID not in the table.
var ErrUnknownLesion = errors.New("lesions: no lesion with this ID")

// Measure labels the components of tumor and measures each one, taking CT values from ct,
// which must lie on the same grid. Lesions get the IDs 1, 2, … in table order, all
// Unreviewed.
func Measure(tumor *volume.Mask, ct *volume.Volume) (*Table, error) {
	t, err := measure(tumor, ct)
	if err != nil {
		return nil, err
	}
	for n := range t.Lesions {
		t.Lesions[n].ID = n + 1
		t.Lesions[n].Status = Unreviewed
	}
	t.nextID = len(t.Lesions) + 1
	return t, nil
}

// Update measures the edited tumor mask and carries the IDs and statuses of t over to
// the new components by voxel overlap, and returns the new table. t is not changed.
//
// Each new component takes the ID of the previous lesion it overlaps most, unless a
// component with a larger overlap took that ID first, as the larger part of a split
// does. A component whose voxels are exactly those of one previous lesion keeps its
// status. A component that overlaps a previous lesion but differs from it is Edited, and
// a component with no overlap is a new, Unreviewed lesion.
//
// A new lesion gets an ID above every ID that the table has used, unless that would
// exceed [MaxID]. Then it gets the smallest ID that no lesion of t or of the new table
// has, so an ID of a lesion deleted earlier can come back.
//
// For a fresh review, such as after re-running the segmentation, call [Measure] instead.
func (t *Table) Update(tumor *volume.Mask, ct *volume.Volume) (*Table, error) {
	next, err := measure(tumor, ct)
	if err != nil {
		return nil, err
	}
	if t.labeling == nil || t.labeling.Grid.Size != next.labeling.Grid.Size {
		return nil, fmt.Errorf("lesions: update: the previous table was not measured on a mask of size %v", tumor.Size)
	}
	next.nextID = t.nextID

	overlaps := countOverlaps(t.labeling, next.labeling)

	// Hand out IDs by decreasing overlap, so the largest part of a split lesion keeps its ID.
	slices.SortStableFunc(overlaps, func(a, b overlap) int {
		if a.voxels != b.voxels {
			return b.voxels - a.voxels
		}
		return t.Lesions[a.previous].ID - t.Lesions[b.previous].ID
	})
	claimed := make(map[int]bool)
	for _, o := range overlaps {
		l := &next.Lesions[o.current]
		id := t.Lesions[o.previous].ID
		if l.ID != 0 || claimed[id] {
			continue
		}
		l.ID = id
		claimed[id] = true
	}

	// A component keeps its status only when it is the same voxel set as one previous lesion.
	partners := make([][]overlap, len(next.Lesions))
	for _, o := range overlaps {
		partners[o.current] = append(partners[o.current], o)
	}
	var used map[int]bool
	free := 1
	for n := range next.Lesions {
		l := &next.Lesions[n]
		switch {
		case l.ID != 0:
		case next.nextID <= MaxID:
			l.ID = next.nextID
			next.nextID++
		default:
			// Separate 26-connected components cannot share a 2×2×2 block of voxels,
			// so on a real grid there are far fewer lesions than MaxID, and free
			// stays below it.
			if used == nil {
				used = lesionIDs(t.Lesions, next.Lesions)
			}
			for used[free] {
				free++
			}
			l.ID = free
			used[free] = true
		}
		p := partners[n]
		switch {
		case len(p) == 0:
			l.Status = Unreviewed
		case len(p) == 1 && p[0].voxels == l.VoxelCount && p[0].voxels == t.Lesions[p[0].previous].VoxelCount:
			l.Status = t.Lesions[p[0].previous].Status
		default:
			l.Status = Edited
		}
	}
	return next, nil
}

// lesionIDs returns the set of the nonzero IDs in tables.
func lesionIDs(tables ...[]Lesion) map[int]bool {
	ids := make(map[int]bool)
	for _, lesions := range tables {
		for _, l := range lesions {
			if l.ID != 0 {
				ids[l.ID] = true
			}
		}
	}
	return ids
}

// SetStatus sets the review status of the lesion with the given ID.
func (t *Table) SetStatus(id int, s Status) error {
	if !s.Valid() {
		return fmt.Errorf("lesions: invalid status %q, want %q, %q, %q or %q", s, Unreviewed, Accepted, Rejected, Edited)
	}
	for n := range t.Lesions {
		if t.Lesions[n].ID == id {
			t.Lesions[n].Status = s
			return nil
		}
	}
	return fmt.Errorf("%w: %d", ErrUnknownLesion, id)
}

// Clone returns a copy of t whose lesion rows can change, such as by [Table.SetStatus],
// without changing t. The two tables share the component labeling, which no method
// changes, so a clone can be saved on another goroutine while t stays in use.
func (t *Table) Clone() *Table {
	return &Table{Lesions: slices.Clone(t.Lesions), labeling: t.labeling, nextID: t.nextID}
}

// LesionAt returns the index in Lesions of the lesion that contains voxel (i, j, k), or
// -1 for a background voxel or an index outside the grid.
func (t *Table) LesionAt(i, j, k int) int {
	if t.labeling == nil {
		return -1
	}
	return t.labeling.ComponentAt(i, j, k)
}

// overlap is the number of voxels that a current component shares with a previous one.
type overlap struct {
	current, previous int
	voxels            int
}

// countOverlaps returns, for every pair of a previous and a current component that
// share voxels, the number of shared voxels. Both labelings are on the same grid.
func countOverlaps(previous, current *components.Labeling) []overlap {
	box := previous.Box.Intersect(current.Box)
	if box.Empty() {
		return nil
	}
	counts := make(map[[2]int]int)
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				c := current.ComponentAt(i, j, k)
				if c < 0 {
					continue
				}
				if p := previous.ComponentAt(i, j, k); p >= 0 {
					counts[[2]int{c, p}]++
				}
			}
		}
	}
	out := make([]overlap, 0, len(counts))
	for pair, n := range counts {
		out = append(out, overlap{current: pair[0], previous: pair[1], voxels: n})
	}
	// Map order is random, so sort for a deterministic result.
	slices.SortFunc(out, func(a, b overlap) int {
		if a.current != b.current {
			return a.current - b.current
		}
		return a.previous - b.previous
	})
	return out
}

// gridToleranceMM bounds the difference in spacing and origin between the mask and CT
// grids that [Measure] accepts as the same grid.
const gridToleranceMM = 1e-3

// measure labels tumor and measures its components, leaving IDs and statuses unset.
func measure(tumor *volume.Mask, ct *volume.Volume) (*Table, error) {
	if err := checkInputs(tumor, ct); err != nil {
		return nil, err
	}
	labeling, err := components.Label(tumor, components.Connectivity26)
	if err != nil {
		return nil, fmt.Errorf("lesions: %w", err)
	}
	t := &Table{labeling: labeling, Lesions: make([]Lesion, len(labeling.Components))}
	if len(labeling.Components) == 0 {
		return t, nil
	}

	// One pass over the labelled box sums the CT values.
	sumHU := make([]float64, len(t.Lesions))
	box := labeling.Box
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				c := labeling.ComponentAt(i, j, k)
				if c < 0 {
					continue
				}
				sumHU[c] += float64(ct.Voxels[ct.Offset(i, j, k)])
			}
		}
	}

	diameters := maxDiametersMM(labeling)
	for c, comp := range labeling.Components {
		l := &t.Lesions[c]
		l.VoxelCount = comp.VoxelCount
		l.VolumeML = comp.VolumeML
		l.BoundingBox = comp.BoundingBox
		l.MeanHU = sumHU[c] / float64(comp.VoxelCount)
		l.MaxDiameterMM = diameters[c]
	}
	return t, nil
}

// checkInputs rejects a missing mask or CT, and a CT whose grid differs from the mask's.
func checkInputs(tumor *volume.Mask, ct *volume.Volume) error {
	if tumor == nil {
		return errors.New("lesions: no tumor mask")
	}
	if ct == nil {
		return errors.New("lesions: no CT volume to take mean HU from")
	}
	if err := tumor.Validate(); err != nil {
		return fmt.Errorf("lesions: tumor mask: %w", err)
	}
	if len(tumor.Labels) != tumor.NumVoxels() {
		return fmt.Errorf("lesions: tumor mask has %d labels, want %d for size %v", len(tumor.Labels), tumor.NumVoxels(), tumor.Size)
	}
	if ct.Size != tumor.Size {
		return fmt.Errorf("lesions: CT size %v differs from tumor mask size %v, want the same grid", ct.Size, tumor.Size)
	}
	if len(ct.Voxels) != ct.NumVoxels() {
		return fmt.Errorf("lesions: CT has %d voxels, want %d for size %v", len(ct.Voxels), ct.NumVoxels(), ct.Size)
	}
	for a := 0; a < 3; a++ {
		if math.Abs(ct.SpacingMM[a]-tumor.SpacingMM[a]) > gridToleranceMM || math.Abs(ct.OriginLPS[a]-tumor.OriginLPS[a]) > gridToleranceMM {
			return fmt.Errorf("lesions: CT spacing %v mm and origin %v differ from the tumor mask's %v mm and %v, want the same grid", ct.SpacingMM, ct.OriginLPS, tumor.SpacingMM, tumor.OriginLPS)
		}
	}
	return nil
}
