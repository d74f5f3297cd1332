package nifti

import (
	"errors"
	"fmt"
	"math"

	"protrude/volume"
)

// quaternionThreshold is how far below zero 1-(b²+c²+d²) may fall before the qform
// quaternion is rejected. It allows for float32 rounding of b, c and d, and is the
// threshold nibabel 5 uses (3 float32 epsilons).
const quaternionThreshold = -3 * 1.1920929e-07

// affine3x4 maps (i, j, k, 1) to a position in mm: row r gives coordinate r.
type affine3x4 [3][4]float64

// size returns the voxel counts along i, j and k after checking the dim field:
// dim[0] in 3..7, dim[1..3] positive, and every further dimension equal to 1.
func (h *Header) size() ([3]int, error) {
	var size [3]int
	if h.Dim[0] < 3 || h.Dim[0] > 7 {
		return size, fmt.Errorf("dim[0] (number of dimensions) is %d, want 3 to 7 for a 3D volume: %w", h.Dim[0], ErrUnsupported)
	}
	for a := 0; a < 3; a++ {
		if h.Dim[a+1] <= 0 {
			return size, fmt.Errorf("dim[%d] is %d, want > 0: %w", a+1, h.Dim[a+1], ErrMalformed)
		}
		size[a] = int(h.Dim[a+1])
	}
	for n := 4; n <= int(h.Dim[0]); n++ {
		if h.Dim[n] != 1 {
			return size, fmt.Errorf("dim[%d] is %d, but only 3D volumes are read (every dimension after the third must be 1); split the series into 3D files: %w", n, h.Dim[n], ErrUnsupported)
		}
	}
	return size, nil
}

// spatialScaleToMM returns the factor that converts the file's spatial unit to mm.
// An unknown unit (code 0) counts as mm, as most writers mean.
func (h *Header) spatialScaleToMM() (float64, error) {
	switch code := h.XYZTUnits & 0x07; code {
	case unitsUnknown, unitsMM:
		return 1, nil
	case unitsMeter:
		return 1000, nil
	case unitsMicron:
		return 0.001, nil
	default:
		return 0, fmt.Errorf("xyzt_units spatial code is %d, want 0 (unknown), 1 (metre), 2 (mm) or 3 (micron): %w", code, ErrMalformed)
	}
}

// Grid returns the voxel grid in LPS patient space that the header describes.
//
// The transform is the sform when sform_code > 0, else the qform when qform_code > 0,
// else pixdim scaling alone with no rotation and the origin at zero. NIfTI
// coordinates are RAS, so x and y are negated to reach LPS. A negative voxel step,
// from a flipped sform column, from qfac = -1 or from a negative pixdim with both
// codes 0, becomes a flipped axis direction, so the grid's SpacingMM is always
// positive. In a qform, only the quaternion and qfac set the orientation, and the sign
// of pixdim is ignored, as nibabel 5 does. Spatial units are converted to mm.
//
// NOTE: with both codes 0, nibabel 5 instead centres the volume, flips x and takes
// the absolute value of pixdim. The two placements differ, so such files have no
// trustworthy patient position.
func (h *Header) Grid() (volume.Grid, error) {
	g, err := h.grid()
	if err != nil {
		return volume.Grid{}, fmt.Errorf("nifti: %w", err)
	}
	return g, nil
}

// grid is [Header.Grid] with errors that carry no package prefix.
func (h *Header) grid() (volume.Grid, error) {
	size, err := h.size()
	if err != nil {
		return volume.Grid{}, err
	}
	scale, err := h.spatialScaleToMM()
	if err != nil {
		return volume.Grid{}, err
	}

	var ras affine3x4
	var source string
	switch {
	case h.SformCode > 0:
		source = "sform"
		rows := [3][4]float32{h.SrowX, h.SrowY, h.SrowZ}
		for r := 0; r < 3; r++ {
			for c := 0; c < 4; c++ {
				field := fmt.Sprintf("srow_%c[%d]", "xyz"[r], c)
				if err := checkFinite(field, rows[r][c]); err != nil {
					return volume.Grid{}, fmt.Errorf("sform transform (sform_code %d): %w", h.SformCode, err)
				}
				ras[r][c] = float64(rows[r][c])
			}
		}
	case h.QformCode > 0:
		source = "qform"
		ras, err = h.qformAffine()
		if err != nil {
			return volume.Grid{}, fmt.Errorf("qform transform (qform_code %d): %w", h.QformCode, err)
		}
	default:
		// NIfTI-1 method 1: x = pixdim[1]*i, y = pixdim[2]*j, z = pixdim[3]*k, so a
		// negative pixdim steps along the negative axis.
		source = "pixdim"
		for a := 0; a < 3; a++ {
			if err := checkVoxelSize(a+1, h.Pixdim[a+1]); err != nil {
				return volume.Grid{}, fmt.Errorf("pixdim transform (qform_code and sform_code 0): %w", err)
			}
			ras[a][a] = float64(h.Pixdim[a+1])
		}
	}
	for r := 0; r < 3; r++ {
		for c := 0; c < 4; c++ {
			ras[r][c] *= scale
		}
	}

	g, err := gridFromRAS(ras, size)
	if err != nil {
		return volume.Grid{}, fmt.Errorf("%s transform: %w", source, err)
	}
	return g, nil
}

// qformAffine builds the RAS affine from the quaternion, pixdim, qfac and offsets, in
// the file's spatial unit.
func (h *Header) qformAffine() (affine3x4, error) {
	var m affine3x4
	fields := []struct {
		name  string
		value float32
	}{
		{"quatern_b", h.QuaternB}, {"quatern_c", h.QuaternC}, {"quatern_d", h.QuaternD},
		{"qoffset_x", h.QoffsetX}, {"qoffset_y", h.QoffsetY}, {"qoffset_z", h.QoffsetZ},
	}
	for _, f := range fields {
		if err := checkFinite(f.name, f.value); err != nil {
			return m, err
		}
	}
	for a := 1; a <= 3; a++ {
		if err := checkVoxelSize(a, h.Pixdim[a]); err != nil {
			return m, err
		}
	}

	b, c, d := float64(h.QuaternB), float64(h.QuaternC), float64(h.QuaternD)
	w2 := 1 - (b*b + c*c + d*d)
	if w2 < quaternionThreshold {
		return m, fmt.Errorf("quaternion (quatern_b, quatern_c, quatern_d) = (%g, %g, %g) has b²+c²+d² = %.6g > 1, so it is not a rotation: %w",
			h.QuaternB, h.QuaternC, h.QuaternD, 1-w2, ErrMalformed)
	}
	a := math.Sqrt(math.Max(w2, 0))

	// Normalise as nibabel does, because float32 storage leaves |q| slightly off 1.
	norm2 := a*a + b*b + c*c + d*d
	s := 2 / norm2
	rot := [3][3]float64{
		{1 - s*(c*c+d*d), s * (b*c - a*d), s * (b*d + a*c)},
		{s * (b*c + a*d), 1 - s*(b*b+d*d), s * (c*d - a*b)},
		{s * (b*d - a*c), s * (c*d + a*b), 1 - s*(b*b+c*c)},
	}

	// nifti1_io.c treats any qfac (pixdim[0]) that is not negative as +1.
	qfac := 1.0
	if h.Pixdim[0] < 0 {
		qfac = -1
	}
	// The qform's orientation is the quaternion and qfac alone, so the sign of a
	// negative pixdim is dropped, as nibabel 5 does when it loads such a header.
	// NOTE: nifti1_io.c reads a pixdim <= 0 in a qform as 1 mm instead.
	voxelSize := [3]float64{
		math.Abs(float64(h.Pixdim[1])),
		math.Abs(float64(h.Pixdim[2])),
		qfac * math.Abs(float64(h.Pixdim[3])),
	}
	for r := 0; r < 3; r++ {
		for col := 0; col < 3; col++ {
			m[r][col] = rot[r][col] * voxelSize[col]
		}
	}
	m[0][3] = float64(h.QoffsetX)
	m[1][3] = float64(h.QoffsetY)
	m[2][3] = float64(h.QoffsetZ)
	return m, nil
}

// gridFromRAS converts a RAS affine in mm into an LPS grid, folding each column's
// length into SpacingMM and its direction into AxesLPS.
func gridFromRAS(ras affine3x4, size [3]int) (volume.Grid, error) {
	g := volume.Grid{Size: size}
	for r := 0; r < 3; r++ {
		if math.IsNaN(ras[r][3]) || math.IsInf(ras[r][3], 0) {
			return g, fmt.Errorf("translation %v is not finite: %w", [3]float64{ras[0][3], ras[1][3], ras[2][3]}, ErrMalformed)
		}
	}
	g.OriginLPS = volume.Vec3{-ras[0][3], -ras[1][3], ras[2][3]}

	for a := 0; a < 3; a++ {
		column := volume.Vec3{-ras[0][a], -ras[1][a], ras[2][a]}
		length := math.Sqrt(column[0]*column[0] + column[1]*column[1] + column[2]*column[2])
		if !(length > 0) || math.IsInf(length, 0) {
			return g, fmt.Errorf("column %d (voxel step along axis %d) is %v, want a finite non-zero vector: %w", a, a, column, ErrMalformed)
		}
		g.SpacingMM[a] = length
		for c := 0; c < 3; c++ {
			g.AxesLPS[a][c] = column[c] / length
		}
	}

	if err := g.Validate(); err != nil {
		return g, fmt.Errorf("sheared or otherwise non-orthogonal affines are not supported, so resample the file onto an orthogonal grid: %w", errors.Join(ErrUnsupported, err))
	}
	return g, nil
}

// checkFinite returns an ErrMalformed error naming field when value is NaN or infinite.
func checkFinite(field string, value float32) error {
	if math.IsNaN(float64(value)) || math.IsInf(float64(value), 0) {
		return fmt.Errorf("%s is %g, want a finite number: %w", field, value, ErrMalformed)
	}
	return nil
}

// checkVoxelSize returns an ErrMalformed error when pixdim[n] is not a finite, non-zero
// voxel size.
func checkVoxelSize(n int, value float32) error {
	if err := checkFinite(fmt.Sprintf("pixdim[%d] (voxel size along axis %d)", n, n-1), value); err != nil {
		return err
	}
	if value == 0 {
		return fmt.Errorf("pixdim[%d] (voxel size along axis %d) is 0, want a non-zero size: %w", n, n-1, ErrMalformed)
	}
	return nil
}

// rasAffine returns the RAS affine in mm of a grid: the LPS affine with x and y negated.
func rasAffine(g volume.Grid) affine3x4 {
	lps := g.AffineLPS()
	var m affine3x4
	for r := 0; r < 3; r++ {
		sign := 1.0
		if r < 2 {
			sign = -1
		}
		for c := 0; c < 4; c++ {
			m[r][c] = sign * lps[r][c]
		}
	}
	return m
}

// setTransforms fills the sform, qform, pixdim[0..3] and spatial units of h from g,
// so both transforms carry g's affine. A Grid does not record which space its LPS
// coordinates belong to, so the codes are fixed. qform_code is 1 (scanner), because
// grids read from DICOM are in scanner space. sform_code is 2 (aligned), which marks
// the sform as the transform that aligns this file with others of the same scan.
func setTransforms(h *Header, g volume.Grid) {
	ras := rasAffine(g)
	for c := 0; c < 4; c++ {
		h.SrowX[c] = float32(ras[0][c])
		h.SrowY[c] = float32(ras[1][c])
		h.SrowZ[c] = float32(ras[2][c])
	}
	h.SformCode = XformAlignedAnat
	h.QformCode = XformScannerAnat

	// The qform stores a proper rotation, so a left-handed grid puts its reflection
	// into qfac = pixdim[0] = -1 and flips the third axis.
	var rot [3][3]float64
	for a := 0; a < 3; a++ {
		rot[0][a] = -g.AxesLPS[a][0]
		rot[1][a] = -g.AxesLPS[a][1]
		rot[2][a] = g.AxesLPS[a][2]
	}
	qfac := float32(1)
	if det3(rot) < 0 {
		qfac = -1
		for r := 0; r < 3; r++ {
			rot[r][2] = -rot[r][2]
		}
	}
	b, c, d := quaternionFromRotation(rot)
	h.QuaternB, h.QuaternC, h.QuaternD = float32(b), float32(c), float32(d)
	h.QoffsetX, h.QoffsetY, h.QoffsetZ = float32(ras[0][3]), float32(ras[1][3]), float32(ras[2][3])
	h.Pixdim[0] = qfac
	for a := 0; a < 3; a++ {
		h.Pixdim[a+1] = float32(g.SpacingMM[a])
	}
	h.XYZTUnits = h.XYZTUnits&^0x07 | unitsMM
}

func det3(m [3][3]float64) float64 {
	return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
}

// quaternionFromRotation returns (b, c, d) of the unit quaternion (a, b, c, d) with
// a >= 0 for a proper rotation matrix, choosing the numerically stable branch as
// nifti1_io.c's nifti_mat44_to_quatern does.
func quaternionFromRotation(r [3][3]float64) (b, c, d float64) {
	var a float64
	trace := r[0][0] + r[1][1] + r[2][2] + 1
	if trace > 0.5 {
		a = 0.5 * math.Sqrt(trace)
		b = 0.25 * (r[2][1] - r[1][2]) / a
		c = 0.25 * (r[0][2] - r[2][0]) / a
		d = 0.25 * (r[1][0] - r[0][1]) / a
	} else {
		xd := 1 + r[0][0] - (r[1][1] + r[2][2])
		yd := 1 + r[1][1] - (r[0][0] + r[2][2])
		zd := 1 + r[2][2] - (r[0][0] + r[1][1])
		switch {
		case xd > 1:
			b = 0.5 * math.Sqrt(xd)
			c = 0.25 * (r[0][1] + r[1][0]) / b
			d = 0.25 * (r[0][2] + r[2][0]) / b
			a = 0.25 * (r[2][1] - r[1][2]) / b
		case yd > 1:
			c = 0.5 * math.Sqrt(yd)
			b = 0.25 * (r[0][1] + r[1][0]) / c
			d = 0.25 * (r[1][2] + r[2][1]) / c
			a = 0.25 * (r[0][2] - r[2][0]) / c
		default:
			d = 0.5 * math.Sqrt(zd)
			b = 0.25 * (r[0][2] + r[2][0]) / d
			c = 0.25 * (r[1][2] + r[2][1]) / d
			a = 0.25 * (r[1][0] - r[0][1]) / d
		}
		if a < 0 {
			b, c, d = -b, -c, -d
		}
	}
	return b, c, d
}
