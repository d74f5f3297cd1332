package seg

import (
	"fmt"

	"protrude/volume"
	"protrude/volume/nifti"
)

// Labels of the NIfTI label map.
const (
	LabelMapBackground = 0
	LabelMapKidney     = 1
	LabelMapProtrusion = 2
	LabelMapTumor      = 3
)

// LabelMapDescription is the descrip field of a written label map: the labels, the
// precedence where layers overlap and the research notice, in at most 79 bytes.
const LabelMapDescription = "1=kidney 2=protrusion 3=tumor,3>2>1. " + ResearchNotice

// CombineLabels returns the label map of kidney, protrusion and tumor: a voxel in
// several layers gets the highest of their labels, so tumor wins over protruded
// region and protruded region over kidney. BaseTumor is not in the label map.
func CombineLabels(l Layers) (*volume.Mask, error) {
	if l.Kidney == nil || l.Protrusion == nil || l.Tumor == nil {
		return nil, fmt.Errorf("seg: a label map needs the kidney, protrusion and tumor layers, and one is nil")
	}
	g := l.Kidney.Grid
	combined := volume.NewMask(g)
	for _, layer := range []struct {
		mask  *volume.Mask
		label uint8
	}{{l.Kidney, LabelMapKidney}, {l.Protrusion, LabelMapProtrusion}, {l.Tumor, LabelMapTumor}} {
		if !sameGrid(layer.mask.Grid, g) || len(layer.mask.Labels) != g.NumVoxels() {
			return nil, fmt.Errorf("seg: the label %d layer is on grid %+v, but the kidney layer is on %+v; all layers must share one grid", layer.label, layer.mask.Grid, g)
		}
		// Layers go in rising label order, so a later, higher label overwrites.
		for n, v := range layer.mask.Labels {
			if v != 0 {
				combined.Labels[n] = layer.label
			}
		}
	}
	return combined, nil
}

// WriteLabelMap writes the label map of l to path as uint8 NIfTI, through a
// temporary file that is renamed. template is the input's header for NIfTI input,
// so the file carries its qform and sform, or nil to build them from the grid.
func WriteLabelMap(path string, l Layers, template *nifti.Header) error {
	combined, err := CombineLabels(l)
	if err != nil {
		return err
	}
	return nifti.WriteMask(path, combined, nifti.WriteOptions{Description: LabelMapDescription, Template: template})
}

// SplitLabels returns the layers of a label map: each layer holds the voxels with
// exactly its label, so the layers are disjoint and a tumor voxel is not in the
// kidney layer. It rejects labels above 3.
func SplitLabels(m *volume.Mask) (Layers, error) {
	l := Layers{Kidney: volume.NewMask(m.Grid), Protrusion: volume.NewMask(m.Grid), Tumor: volume.NewMask(m.Grid)}
	for n, v := range m.Labels {
		switch v {
		case LabelMapBackground:
		case LabelMapKidney:
			l.Kidney.Labels[n] = 1
		case LabelMapProtrusion:
			l.Protrusion.Labels[n] = 1
		case LabelMapTumor:
			l.Tumor.Labels[n] = 1
		default:
			i, j, k := n%m.Size[0], n/m.Size[0]%m.Size[1], n/(m.Size[0]*m.Size[1])
			return Layers{}, fmt.Errorf("voxel (%d, %d, %d) has label %d, but a label map has only 0 to 3", i, j, k, v)
		}
	}
	return l, nil
}

// ReadLabelMap reads a label map written by [WriteLabelMap] into disjoint layers,
// as [SplitLabels] describes.
func ReadLabelMap(path string) (Layers, *nifti.Header, error) {
	m, hdr, err := nifti.ReadMask(path)
	if err != nil {
		return Layers{}, nil, err
	}
	l, err := SplitLabels(m)
	if err != nil {
		return Layers{}, nil, fmt.Errorf("seg: read label map %s: %w", path, err)
	}
	return l, hdr, nil
}
