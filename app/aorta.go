package main

import (
	"fmt"
	"math"

	"protrude/volume"
)

// The aorta check looks for contrast-filled blood in the aorta, which needs no
// segmentation network and works on chest scans that show no kidney. On each axial
// slice it finds the vertebral body and then a round, filled blob of enhanced blood
// beside it, anterior or to the left, where the descending aorta runs. A scan is
// flagged when such a blob continues over at least aortaMinRunMM along the body axis.
//
// Thresholds and their sources:
//
//   - Unenhanced blood in the descending aorta measured 29–45 HU (interquartile
//     range, 325 patients, unenhanced chest CT; Research Square preprint
//     rs-1420003 v1, Table 2). Bolus-tracked portal venous scans start 40–50 s after
//     the abdominal aorta has risen 100 HU above its unenhanced value (Kanematsu et
//     al., Open Journal of Radiology 3 (2013) 112–116), so the aorta of such a scan
//     exceeds about 140 HU. aortaMinEnhancedHU = 120 HU lies between the two.
//   - aortaMaxEnhancedHU = 600 HU keeps cortical bone and dense calcium, which
//     measure more, out of the blob.
//   - aortaMinAreaMM2 = 150 mm² (a 14 mm disc) is smaller than the cross-section of
//     an adult aorta, which is about 2 cm across, and larger than a calcified plaque,
//     which is a few mm thick. aortaMaxAreaMM2 = 2000 mm² (a 50 mm disc) admits an
//     aneurysm but not a heart chamber or a whole vertebral body.
//   - The vertebral body is taken as the largest component of at least
//     vertebraMinHU = 100 HU and vertebraMinAreaMM2 = 300 mm² near the body's
//     midline in the posterior 60% of the body. These two numbers are set by
//     judgement, not from a study. The marrow of the real non-contrast torso CT
//     mostly measures 100–150 HU. There a threshold of 150 HU found the vertebral
//     body on 22 of 112 slices and 100 HU on 58. The other slices lie outside the
//     spine's lumbar and thoracic part, or their vertebral body is split. An enhanced aorta passes this
//     threshold too, but it is smaller than the vertebral body unless it has merged
//     with it, and then that slice is skipped.
//
// NOTE: the thresholds were not fitted to data. The check has been run on one real
// non-contrast torso CT, one 20-slice contrast-enhanced CT and synthetic volumes
// (aorta_test.go). A contrast-filled vessel or heart chamber left of the vertebral
// body can also pass, and a series whose slices are not axial is not checked.
const (
	aortaMinEnhancedHU = 120
	aortaMaxEnhancedHU = 600
	aortaMinAreaMM2    = 150
	aortaMaxAreaMM2    = 2000
	// aortaMinFill is the fraction of the disc of the blob's own area, centred on
	// its centroid, that the blob must cover. A ring, crescent or line of calcium
	// covers far less.
	aortaMinFill = 0.8
	// aortaMaxStdDevHU bounds the spread of HU in the blob's core (after smoothing).
	// Blood is uniform up to image noise, while bone mixes marrow and cortex.
	aortaMaxStdDevHU = 60
	// aortaMaxRightOfSpineMM is how far right of the vertebral body's centroid the
	// blob's centroid may lie. The aorta runs left of the midline, and the inferior
	// vena cava, which also enhances, runs right of it.
	aortaMaxRightOfSpineMM = 10
	// aortaMaxBehindSpineMM is how far posterior of the vertebral body's centroid the
	// blob's centroid may lie. The descending aorta lies anterior or left-lateral.
	aortaMaxBehindSpineMM = 5
	// aortaMaxSpineDistanceMM bounds the distance between the two centroids.
	aortaMaxSpineDistanceMM = 80
	// aortaMaxStepMM bounds how far the blob's centroid moves between neighbouring
	// slices of one run, since the aorta is a continuous tube.
	aortaMaxStepMM = 10
	// aortaMinRunMM is the length along the body axis over which blobs must be found
	// on consecutive slices.
	aortaMinRunMM = 10

	// smoothingMM is the half-width of the box filter applied to each slice before
	// thresholding, so that image noise neither splits the blob nor lets it leak.
	smoothingMM = 2
	// openingMM is the half-width of the square with which the masks are opened
	// (eroded, then dilated). It cuts the aorta from a vertebral body that it
	// touches through a neck narrower than twice this width.
	openingMM = 3

	vertebraMinHU      = 100
	vertebraMinAreaMM2 = 300
	// vertebraMaxMidlineMM bounds the distance from the body's midline (the mean x of
	// the body's pixels) to the vertebral body's centroid.
	vertebraMaxMidlineMM = 30
	// bodyMinHU separates the body from the air around it.
	bodyMinHU = -500
	// aortaMinAxialCosine is the smallest |cosine| between the slice normal and the
	// body axis at which a series counts as axial.
	aortaMinAxialCosine = 0.85
)

// aortaFinding is the enhanced blob found on one slice.
type aortaFinding struct {
	slice        int
	centreLPS    volume.Vec3
	areaMM2      float64
	meanHU       float64
	stdDevHU     float64
	fill         float64
	spineCentreX float64
}

// aortaContrastWarning returns a warning when ct shows contrast-enhanced blood in the
// aorta (see aortaFindings), and "" otherwise.
func aortaContrastWarning(ct *volume.Volume) string {
	findings := aortaFindings(ct)
	if len(findings) == 0 {
		return ""
	}
	var sum float64
	for _, f := range findings {
		sum += f.meanHU
	}
	return fmt.Sprintf("the aorta measures %.0f HU (mean over %d slices beside the spine), above the %d HU of enhanced blood: "+
		"this scan looks contrast-enhanced, but the networks were trained on non-contrast CT, so treat the tumor layers with caution",
		sum/float64(len(findings)), len(findings), aortaMinEnhancedHU)
}

// aortaFindings returns the per-slice blobs of the longest run of consecutive axial
// slices with an enhanced aorta when that run covers at least aortaMinRunMM, and nil
// otherwise or when ct is not an axial series.
func aortaFindings(ct *volume.Volume) []aortaFinding {
	sliceAxis := -1
	for a := 0; a < 3; a++ {
		if math.Abs(ct.AxesLPS[a][2]) >= aortaMinAxialCosine {
			sliceAxis = a
		}
	}
	if sliceAxis < 0 {
		return nil
	}
	var best, run []aortaFinding
	for k := 0; k < ct.Size[sliceAxis]; k++ {
		f, ok := findAortaOnSlice(ct, sliceAxis, k)
		if !ok {
			run = nil
			continue
		}
		if len(run) > 0 {
			last := run[len(run)-1].centreLPS
			if math.Hypot(f.centreLPS[0]-last[0], f.centreLPS[1]-last[1]) > aortaMaxStepMM {
				run = nil
			}
		}
		run = append(run, f)
		if len(run) > len(best) {
			best = append([]aortaFinding(nil), run...)
		}
	}
	if len(best) == 0 || float64(len(best))*ct.SpacingMM[sliceAxis] < aortaMinRunMM {
		return nil
	}
	return best
}

// axialSlice is one slice of a volume across sliceAxis, as a 2D image with the
// patient position of every pixel.
type axialSlice struct {
	width, height int
	hu            []float32
	// xMM and yMM are the LPS x and y of each pixel's centre.
	xMM, yMM []float64
	// spacingUMM and spacingVMM are the pixel spacing along u and v.
	spacingUMM, spacingVMM float64
	pixelAreaMM2           float64
}

// binningMM is the pixel size to which extractAxialSlice bins finer slices, which
// keeps the check fast on 512 × 512 images and averages out part of the noise.
const binningMM = 2

// extractAxialSlice returns slice k of ct across sliceAxis, binned in plane to pixels
// of about binningMM. Pixel (u, v) averages the voxels whose indices along the first
// and second remaining axes lie in bin u and bin v. Voxels past the last whole bin
// are left out.
func extractAxialSlice(ct *volume.Volume, sliceAxis, k int) axialSlice {
	uAxis, vAxis := (sliceAxis+1)%3, (sliceAxis+2)%3
	if uAxis > vAxis {
		uAxis, vAxis = vAxis, uAxis
	}
	binU := max(int(binningMM/ct.SpacingMM[uAxis]), 1)
	binV := max(int(binningMM/ct.SpacingMM[vAxis]), 1)
	s := axialSlice{
		width: ct.Size[uAxis] / binU, height: ct.Size[vAxis] / binV,
		spacingUMM: ct.SpacingMM[uAxis] * float64(binU), spacingVMM: ct.SpacingMM[vAxis] * float64(binV),
	}
	s.pixelAreaMM2 = s.spacingUMM * s.spacingVMM
	n := s.width * s.height
	s.hu, s.xMM, s.yMM = make([]float32, n), make([]float64, n), make([]float64, n)

	// The LPS position of a bin's centre is affine in (u, v).
	var index volume.Vec3
	index[sliceAxis] = float64(k)
	index[uAxis], index[vAxis] = float64(binU-1)/2, float64(binV-1)/2
	originLPS := ct.IndexToLPS(index)
	var stepU, stepV volume.Vec3
	for c := 0; c < 3; c++ {
		stepU[c] = ct.AxesLPS[uAxis][c] * s.spacingUMM
		stepV[c] = ct.AxesLPS[vAxis][c] * s.spacingVMM
	}
	var voxel [3]int
	voxel[sliceAxis] = k
	for v := 0; v < s.height; v++ {
		for u := 0; u < s.width; u++ {
			var sum float32
			for dv := 0; dv < binV; dv++ {
				for du := 0; du < binU; du++ {
					voxel[uAxis], voxel[vAxis] = u*binU+du, v*binV+dv
					sum += ct.Voxels[ct.Offset(voxel[0], voxel[1], voxel[2])]
				}
			}
			at := u + v*s.width
			s.hu[at] = sum / float32(binU*binV)
			s.xMM[at] = originLPS[0] + float64(u)*stepU[0] + float64(v)*stepV[0]
			s.yMM[at] = originLPS[1] + float64(u)*stepU[1] + float64(v)*stepV[1]
		}
	}
	return s
}

// blob is a 4-connected component of a 2D mask.
type blob struct {
	pixels []int
	// xMM and yMM are the LPS centroid, and u and v the centroid in pixels.
	xMM, yMM float64
	u, v     float64
	areaMM2  float64
}

// findBlobs returns the 4-connected components of the pixels for which inside is
// true, after a morphological opening with a square of half-width openingMM.
func (s axialSlice) findBlobs(inside func(hu float32) bool) []blob {
	mask := make([]bool, len(s.hu))
	for at, hu := range s.hu {
		mask[at] = inside(hu)
	}
	mask = s.open(mask)
	seen := make([]bool, len(s.hu))
	var blobs []blob
	var stack []int
	for start := range s.hu {
		if seen[start] || !mask[start] {
			continue
		}
		var b blob
		seen[start] = true
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			at := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			b.pixels = append(b.pixels, at)
			b.xMM += s.xMM[at]
			b.yMM += s.yMM[at]
			u, v := at%s.width, at/s.width
			b.u += float64(u)
			b.v += float64(v)
			for _, next := range [4][2]int{{u - 1, v}, {u + 1, v}, {u, v - 1}, {u, v + 1}} {
				if next[0] < 0 || next[1] < 0 || next[0] >= s.width || next[1] >= s.height {
					continue
				}
				n := next[0] + next[1]*s.width
				if !seen[n] && mask[n] {
					seen[n] = true
					stack = append(stack, n)
				}
			}
		}
		count := float64(len(b.pixels))
		b.xMM /= count
		b.yMM /= count
		b.u /= count
		b.v /= count
		b.areaMM2 = count * s.pixelAreaMM2
		blobs = append(blobs, b)
	}
	return blobs
}

// findAortaOnSlice returns the enhanced aorta on slice k, when one is found.
func findAortaOnSlice(ct *volume.Volume, sliceAxis, k int) (aortaFinding, bool) {
	s := extractAxialSlice(ct, sliceAxis, k)
	s.smooth()

	spine, ok := s.findVertebralBody()
	if !ok {
		return aortaFinding{}, false
	}
	spinePixels := make(map[int]bool, len(spine.pixels))
	for _, at := range spine.pixels {
		spinePixels[at] = true
	}

	// The aorta: a round, filled, uniform blob of enhanced blood, anterior or left of
	// the vertebral body and apart from it.
	var best aortaFinding
	found := false
	for _, b := range s.findBlobs(func(hu float32) bool { return hu >= aortaMinEnhancedHU && hu <= aortaMaxEnhancedHU }) {
		if b.areaMM2 < aortaMinAreaMM2 || b.areaMM2 > aortaMaxAreaMM2 {
			continue
		}
		if b.xMM < spine.xMM-aortaMaxRightOfSpineMM || b.yMM > spine.yMM+aortaMaxBehindSpineMM ||
			math.Hypot(b.xMM-spine.xMM, b.yMM-spine.yMM) > aortaMaxSpineDistanceMM {
			continue
		}
		overlapsSpine := false
		for _, at := range b.pixels {
			if spinePixels[at] {
				overlapsSpine = true
				break
			}
		}
		if overlapsSpine {
			continue
		}
		mean, _ := s.meanStdDev(b.pixels)
		stdDev := s.coreStdDev(b)
		fill := s.discFill(b)
		if stdDev > aortaMaxStdDevHU || fill < aortaMinFill {
			continue
		}
		if !found || b.areaMM2 > best.areaMM2 {
			found = true
			best = aortaFinding{
				slice: k, centreLPS: volume.Vec3{b.xMM, b.yMM, 0}, areaMM2: b.areaMM2,
				meanHU: mean, stdDevHU: stdDev, fill: fill, spineCentreX: spine.xMM,
			}
		}
	}
	return best, found
}

// findVertebralBody returns the vertebral body on the slice: the largest component
// of at least vertebraMinHU near the midline of the body, in its posterior 60%.
func (s axialSlice) findVertebralBody() (blob, bool) {
	// The body, the largest component above bodyMinHU, which leaves out the table:
	// its midline and front-to-back extent.
	var body *blob
	bodies := s.findBlobs(func(hu float32) bool { return hu > bodyMinHU })
	for n := range bodies {
		if body == nil || bodies[n].areaMM2 > body.areaMM2 {
			body = &bodies[n]
		}
	}
	if body == nil {
		return blob{}, false
	}
	midlineX, frontY, backY := body.xMM, math.Inf(1), math.Inf(-1)
	for _, at := range body.pixels {
		frontY = math.Min(frontY, s.yMM[at])
		backY = math.Max(backY, s.yMM[at])
	}

	// The vertebral body: the largest bone component near the midline, in the
	// posterior 60% of the body.
	var spine *blob
	bones := s.findBlobs(func(hu float32) bool { return hu >= vertebraMinHU })
	for n := range bones {
		b := &bones[n]
		if b.areaMM2 < vertebraMinAreaMM2 || math.Abs(b.xMM-midlineX) > vertebraMaxMidlineMM || b.yMM < frontY+0.4*(backY-frontY) {
			continue
		}
		if spine == nil || b.areaMM2 > spine.areaMM2 {
			spine = b
		}
	}
	if spine == nil {
		return blob{}, false
	}
	return *spine, true
}

// meanStdDev returns the mean and standard deviation of the HU of pixels.
func (s axialSlice) meanStdDev(pixels []int) (mean, stdDev float64) {
	var sum, sumSquares float64
	for _, at := range pixels {
		hu := float64(s.hu[at])
		sum += hu
		sumSquares += hu * hu
	}
	count := float64(len(pixels))
	mean = sum / count
	return mean, math.Sqrt(math.Max(sumSquares/count-mean*mean, 0))
}

// coreStdDev returns the standard deviation of the HU of the pixels of b within
// half its equivalent radius of its centroid. The rim is left out, because smoothing
// blends it with the tissue around.
func (s axialSlice) coreStdDev(b blob) float64 {
	radiusMM := math.Sqrt(b.areaMM2/math.Pi) / 2
	var core []int
	for _, at := range b.pixels {
		if math.Hypot(s.xMM[at]-b.xMM, s.yMM[at]-b.yMM) <= radiusMM {
			core = append(core, at)
		}
	}
	if len(core) == 0 {
		return 0
	}
	_, stdDev := s.meanStdDev(core)
	return stdDev
}

// discFill returns the fraction of the pixels within the disc of b's own area,
// centred on b's centroid, that belong to b. A filled round blob gives about 1.
func (s axialSlice) discFill(b blob) float64 {
	radiusMM := math.Sqrt(b.areaMM2 / math.Pi)
	member := make(map[int]bool, len(b.pixels))
	for _, at := range b.pixels {
		member[at] = true
	}
	// Only pixels within the radius of the centroid along u and v can lie in the disc.
	reachU, reachV := int(math.Ceil(radiusMM/s.spacingUMM)), int(math.Ceil(radiusMM/s.spacingVMM))
	centreU, centreV := int(math.Round(b.u)), int(math.Round(b.v))
	var inDisc, inBoth int
	for v := max(centreV-reachV, 0); v <= min(centreV+reachV, s.height-1); v++ {
		for u := max(centreU-reachU, 0); u <= min(centreU+reachU, s.width-1); u++ {
			at := u + v*s.width
			if math.Hypot(s.xMM[at]-b.xMM, s.yMM[at]-b.yMM) > radiusMM {
				continue
			}
			inDisc++
			if member[at] {
				inBoth++
			}
		}
	}
	if inDisc == 0 {
		return 0
	}
	return float64(inBoth) / float64(inDisc)
}

// reach returns the half-widths in pixels along u and v of a square of half-width
// mm millimetres.
func (s axialSlice) reach(mm float64) (int, int) {
	return int(mm / s.spacingUMM), int(mm / s.spacingVMM)
}

// smooth replaces each pixel's HU by the mean over a box of half-width smoothingMM,
// clipped at the slice's edges.
func (s axialSlice) smooth() {
	reachU, reachV := s.reach(smoothingMM)
	if reachU == 0 && reachV == 0 {
		return
	}
	rows := make([]float32, len(s.hu))
	for v := 0; v < s.height; v++ {
		for u := 0; u < s.width; u++ {
			var sum float32
			from, to := max(u-reachU, 0), min(u+reachU, s.width-1)
			for w := from; w <= to; w++ {
				sum += s.hu[w+v*s.width]
			}
			rows[u+v*s.width] = sum / float32(to-from+1)
		}
	}
	for v := 0; v < s.height; v++ {
		from, to := max(v-reachV, 0), min(v+reachV, s.height-1)
		for u := 0; u < s.width; u++ {
			var sum float32
			for w := from; w <= to; w++ {
				sum += rows[u+w*s.width]
			}
			s.hu[u+v*s.width] = sum / float32(to-from+1)
		}
	}
}

// open returns mask eroded and then dilated by a square of half-width openingMM.
func (s axialSlice) open(mask []bool) []bool {
	reachU, reachV := s.reach(openingMM)
	eroded := s.boxFilter(mask, reachU, reachV, true)
	return s.boxFilter(eroded, reachU, reachV, false)
}

// boxFilter returns, for each pixel, whether all (erode) or any (!erode) of the
// pixels of mask within reachU and reachV of it are set. Pixels outside the slice
// count as unset.
func (s axialSlice) boxFilter(mask []bool, reachU, reachV int, erode bool) []bool {
	pass := func(in []bool, along func(at, step int) (int, bool), reach int) []bool {
		out := make([]bool, len(in))
		for at := range in {
			result := erode
			for step := -reach; step <= reach; step++ {
				n, ok := along(at, step)
				set := ok && in[n]
				if erode && !set {
					result = false
					break
				}
				if !erode && set {
					result = true
					break
				}
			}
			out[at] = result
		}
		return out
	}
	alongU := func(at, step int) (int, bool) {
		u := at%s.width + step
		return at + step, u >= 0 && u < s.width
	}
	alongV := func(at, step int) (int, bool) {
		v := at/s.width + step
		return at + step*s.width, v >= 0 && v < s.height
	}
	return pass(pass(mask, alongU, reachU), alongV, reachV)
}
