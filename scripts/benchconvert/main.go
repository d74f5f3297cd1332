// Command benchconvert times "protrude convert" against dcm2niix on a generated CT
// series.
//
// It writes a series of int16 single-frame CT files (explicit VR little endian, an
// elliptical body phantom in air) into a temporary folder. It then converts the same
// files to uncompressed NIfTI with both tools, alternating, and prints the wall time
// and peak resident memory of each run. Finally it checks that both outputs hold the
// same voxels at the same patient positions.
//
//	go run ./scripts/benchconvert -protrude bin/protrude -slices 300
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"protrude/volume"
	"protrude/volume/nifti"
)

func main() {
	protrude := flag.String("protrude", "bin/protrude", "path of the protrude `binary` to time")
	slices := flag.Int("slices", 300, "number of slices to generate")
	size := flag.Int("size", 512, "rows and columns of each slice")
	repeat := flag.Int("repeat", 3, "number of timed runs of each tool")
	keep := flag.String("keep", "", "write the series into this `folder` and keep it, instead of a temporary folder")
	flag.Parse()
	if err := run(*protrude, *slices, *size, *repeat, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "benchconvert:", err)
		os.Exit(1)
	}
}

func run(protrude string, slices, size, repeat int, keep string) error {
	dcm2niix, err := exec.LookPath("dcm2niix")
	if err != nil {
		return fmt.Errorf("dcm2niix is not installed (apt-get install dcm2niix): %w", err)
	}
	dir, err := os.MkdirTemp("", "benchconvert-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	series := filepath.Join(dir, "series")
	if keep != "" {
		series = keep
	}
	if err := writeSeries(series, slices, size); err != nil {
		return err
	}
	fmt.Printf("series: %d slices of %d×%d int16 in %s\n", slices, size, size, series)

	protrudeOut := filepath.Join(dir, "protrude.nii")
	referenceDir := filepath.Join(dir, "dcm2niix")
	if err := os.Mkdir(referenceDir, 0o755); err != nil {
		return err
	}
	// convert leaves the flush to the disk to the kernel, as dcm2niix does; with
	// --sync it also waits for the disk, which dcm2niix never does.
	commands := map[string][]string{
		"protrude convert":        {protrude, "convert", series, protrudeOut},
		"protrude convert --sync": {protrude, "convert", "--sync", series, protrudeOut},
		"dcm2niix -z n":           {dcm2niix, "-z", "n", "-f", "reference", "-o", referenceDir, series},
	}
	order := []string{"protrude convert", "protrude convert --sync", "dcm2niix -z n"}
	times := map[string][]time.Duration{}
	peaks := map[string]int64{}
	for r := 0; r < repeat; r++ {
		for _, name := range order {
			// Both tools write to a path that does not exist yet. Otherwise protrude
			// would pay for freeing the old file's blocks when it renames over it,
			// while dcm2niix writes a file with a suffixed name next to the old one.
			if err := removeOutput(name, protrudeOut, referenceDir); err != nil {
				return err
			}
			// Each run starts with no dirty pages in the cache. dcm2niix does not sync,
			// so without this the kernel would write its 150 MiB output to disk during
			// the next run, which is always a protrude run.
			syscall.Sync()
			elapsed, peakKiB, err := timeCommand(commands[name])
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			times[name] = append(times[name], elapsed)
			peaks[name] = max(peaks[name], peakKiB)
		}
	}
	for _, name := range order {
		t := times[name]
		sort.Slice(t, func(a, b int) bool { return t[a] < t[b] })
		fmt.Printf("%-23s median %6.2f s, min %6.2f s over %d runs, peak RSS %d MiB\n",
			name, t[len(t)/2].Seconds(), t[0].Seconds(), len(t), peaks[name]/1024)
	}
	return compare(protrudeOut, filepath.Join(referenceDir, "reference.nii"))
}

// removeOutput deletes what the tool called name wrote: the protrude output file, or
// every file in referenceDir for dcm2niix.
func removeOutput(name, protrudeOut, referenceDir string) error {
	if strings.HasPrefix(name, "protrude convert") {
		if err := os.Remove(protrudeOut); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	entries, err := os.ReadDir(referenceDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(referenceDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// timeCommand runs args and returns its wall time and peak resident set size in KiB.
func timeCommand(args []string) (time.Duration, int64, error) {
	cmd := exec.Command(args[0], args[1:]...)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%v\n%s", err, output.String())
	}
	elapsed := time.Since(start)
	var peak int64
	if usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = usage.Maxrss // KiB on Linux
	}
	return elapsed, peak, nil
}

// compare checks that two NIfTI files put the same values at the same patient
// positions.
func compare(path, referencePath string) error {
	v, _, err := nifti.Read(path)
	if err != nil {
		return err
	}
	ref, _, err := nifti.Read(referencePath)
	if err != nil {
		return err
	}
	if v.NumVoxels() != ref.NumVoxels() {
		return fmt.Errorf("protrude wrote %v voxels, dcm2niix %v", v.Size, ref.Size)
	}
	maxDifference := 0.0
	for k := 0; k < v.Size[2]; k++ {
		for j := 0; j < v.Size[1]; j++ {
			for i := 0; i < v.Size[0]; i++ {
				index := ref.LPSToIndex(v.IndexToLPS(volume.Vec3{float64(i), float64(j), float64(k)}))
				var at [3]int
				for a := 0; a < 3; a++ {
					at[a] = int(math.Round(index[a]))
					if math.Abs(index[a]-float64(at[a])) > 1e-3 || at[a] < 0 || at[a] >= ref.Size[a] {
						return fmt.Errorf("voxel (%d, %d, %d) maps to index %v of the dcm2niix output, not a voxel centre inside it", i, j, k, index)
					}
				}
				maxDifference = math.Max(maxDifference, math.Abs(float64(v.At(i, j, k)-ref.At(at[0], at[1], at[2]))))
			}
		}
	}
	fmt.Printf("outputs agree in patient space: %d voxels, max difference %g HU\n", v.NumVoxels(), maxDifference)
	if maxDifference != 0 {
		return fmt.Errorf("the outputs differ by up to %g HU", maxDifference)
	}
	return nil
}

// writeSeries writes slices axial CT files 1 mm apart into dir. Each slice holds an
// elliptical body of 40 HU with a 300 HU spine-like disc, in air at -1000 HU.
func writeSeries(dir string, slices, size int) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	pixels := make([]byte, 2*size*size)
	for k := 0; k < slices; k++ {
		centre := float64(size-1) / 2
		for j := 0; j < size; j++ {
			for i := 0; i < size; i++ {
				x, y := (float64(i)-centre)/centre, (float64(j)-centre)/centre
				hu := -1000
				if x*x/0.8+y*y/0.5 < 1 {
					hu = 40 + (i*7+j*3+k)%11 // texture, so slices differ
				}
				if math.Hypot(x, y-0.4) < 0.1 {
					hu = 300
				}
				binary.LittleEndian.PutUint16(pixels[2*(j*size+i):], uint16(int16(hu+1024)))
			}
		}
		content := encodeSlice(k, size, pixels)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("IM%05d.dcm", k)), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// element is one explicit VR little endian data element.
type element struct {
	group, number uint16
	vr            string
	value         []byte
}

func text(group, number uint16, vr, s string) element {
	b := []byte(s)
	if len(b)%2 == 1 {
		pad := byte(' ')
		if vr == "UI" {
			pad = 0
		}
		b = append(b, pad)
	}
	return element{group, number, vr, b}
}

func us(group, number uint16, v uint16) element {
	return element{group, number, "US", binary.LittleEndian.AppendUint16(nil, v)}
}

func encode(elements []element) []byte {
	var b bytes.Buffer
	for _, e := range elements {
		binary.Write(&b, binary.LittleEndian, [2]uint16{e.group, e.number})
		b.WriteString(e.vr)
		switch e.vr {
		case "OB", "OW":
			b.Write([]byte{0, 0})
			binary.Write(&b, binary.LittleEndian, uint32(len(e.value)))
		default:
			binary.Write(&b, binary.LittleEndian, uint16(len(e.value)))
		}
		b.Write(e.value)
	}
	return b.Bytes()
}

// encodeSlice returns a Part 10 CT file for slice k with anonymous identifiers.
func encodeSlice(k, size int, pixels []byte) []byte {
	sopInstance := "2.25.1000" + strconv.Itoa(k)
	meta := encode([]element{
		{0x0002, 0x0001, "OB", []byte{0, 1}},
		text(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.2"),
		text(0x0002, 0x0003, "UI", sopInstance),
		text(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1"),
	})
	half := float64(size-1) / 2 * 0.7
	dataset := encode([]element{
		text(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2"),
		text(0x0008, 0x0018, "UI", sopInstance),
		text(0x0008, 0x0060, "CS", "CT"),
		text(0x0008, 0x103e, "LO", "benchmark phantom"),
		text(0x0010, 0x0010, "PN", "ANON"),
		text(0x0010, 0x0020, "LO", "BENCH"),
		text(0x0018, 0x0050, "DS", "1"),
		text(0x0020, 0x000d, "UI", "2.25.2000"),
		text(0x0020, 0x000e, "UI", "2.25.3000"),
		text(0x0020, 0x0013, "IS", strconv.Itoa(k+1)),
		text(0x0020, 0x0032, "DS", fmt.Sprintf(`%g\%g\%d`, -half, -half, k)),
		text(0x0020, 0x0037, "DS", `1\0\0\0\1\0`),
		us(0x0028, 0x0002, 1),
		text(0x0028, 0x0004, "CS", "MONOCHROME2"),
		us(0x0028, 0x0010, uint16(size)),
		us(0x0028, 0x0011, uint16(size)),
		text(0x0028, 0x0030, "DS", `0.7\0.7`),
		us(0x0028, 0x0100, 16),
		us(0x0028, 0x0101, 16),
		us(0x0028, 0x0102, 15),
		us(0x0028, 0x0103, 1),
		text(0x0028, 0x1052, "DS", "-1024"),
		text(0x0028, 0x1053, "DS", "1"),
		{0x7fe0, 0x0010, "OW", pixels},
	})
	var b bytes.Buffer
	b.Write(make([]byte, 128))
	b.WriteString("DICM")
	b.Write(encode([]element{{0x0002, 0x0000, "UL", binary.LittleEndian.AppendUint32(nil, uint32(len(meta)))}}))
	b.Write(meta)
	b.Write(dataset)
	return b.Bytes()
}
