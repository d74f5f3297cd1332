package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"protrude/inference"
	"protrude/volume"
	"protrude/volume/components"
	"protrude/volume/nifti"
)

// maxListedRegions is the number of protruded regions, largest first, that
// protrusion prints.
const maxListedRegions = 10

func runProtrusion(args []string) error {
	fs := flag.NewFlagSet("protrusion", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	outPath := fs.String("o", "", "output NIfTI `file` (.nii or .nii.gz) for the protruded regions (required)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: protrude protrusion [flags] MASK -o OUT.nii.gz\n\n"+
			"Runs the protuberance network alone on a binary organ mask (NIfTI, labels 0 and 1)\n"+
			"and writes the protruded regions on the mask's grid.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	input, rest := splitPositional(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if input == "" && fs.NArg() > 0 {
		input = fs.Arg(0)
	}
	if fs.NArg() > 1 || (fs.NArg() == 1 && input != fs.Arg(0)) {
		return fmt.Errorf("%w: protrusion takes one MASK (%q), but got more arguments: %q", errUsage, input, fs.Args())
	}
	if input == "" || *outPath == "" {
		fs.Usage()
		return fmt.Errorf("%w: protrusion needs MASK and -o OUT.nii.gz", errUsage)
	}
	if trimNIfTISuffix(filepath.Base(*outPath)) == filepath.Base(*outPath) {
		return fmt.Errorf("%w: output %s must end in .nii.gz or .nii", errUsage, *outPath)
	}
	if info, err := os.Stat(filepath.Dir(*outPath)); err != nil || !info.IsDir() {
		return fmt.Errorf("protrusion: the output folder %s does not exist: create it first", filepath.Dir(*outPath))
	}

	if inInfo, err := os.Stat(input); err == nil {
		if outInfo, err := os.Stat(*outPath); err == nil && os.SameFile(inInfo, outInfo) {
			return fmt.Errorf("%w: output %s is the input mask: choose another -o file", errUsage, *outPath)
		}
	}

	start := time.Now()
	organ, hdr, err := readBinaryMask(input)
	if err != nil {
		return err
	}
	fmt.Printf("input: %d×%d×%d voxels, spacing %.3g×%.3g×%.3g mm, organ %.1f mL\n",
		organ.Size[0], organ.Size[1], organ.Size[2], organ.SpacingMM[0], organ.SpacingMM[1], organ.SpacingMM[2], maskVolumeML(organ))

	pipeline, err := openPipeline(mf)
	if err != nil {
		return err
	}
	defer pipeline.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lastStage inference.Stage
	res, err := pipeline.RunProtuberance(ctx, organ, func(p inference.Progress) {
		if p.Stage != lastStage {
			lastStage = p.Stage
			slog.Info("stage started", "stage", p.Stage, "patches", p.Total)
		}
	})
	if err != nil {
		return fmt.Errorf("protrusion: %s: %w", input, err)
	}

	writeStart := time.Now()
	s := &study{Path: input, NIfTIHeader: hdr}
	if err := s.writeMask(*outPath, res.Protrusion); err != nil {
		return err
	}
	writeTime := time.Since(writeStart)

	boxSize := res.Box.Size()
	fmt.Printf("device: %s\n", res.Device.Used)
	fmt.Printf("network region: %d×%d×%d voxels of %g mm\n", boxSize[0], boxSize[1], boxSize[2], res.Grid.SpacingMM[0])
	fmt.Printf("time: resample to %g mm %s\n", res.Grid.SpacingMM[0], res.Durations.Resample.Round(time.Millisecond))
	fmt.Printf("time: protuberance net %s (%d patches)\n", res.Durations.Protuberance.Round(time.Millisecond), res.Patches)
	fmt.Printf("time: resample back %s\n", res.Durations.ResampleBack.Round(time.Millisecond))
	fmt.Printf("time: write %s\n", writeTime.Round(time.Millisecond))
	fmt.Printf("time: total %s\n", time.Since(start).Round(time.Millisecond))
	maxProbability := float32(0)
	for _, v := range res.Probability.Voxels {
		maxProbability = max(maxProbability, v)
	}
	fmt.Printf("maximum protrusion probability: %.3f (threshold %g)\n", maxProbability, pipeline.Bundle().Manifest.Inference.Thresholds.Protrusion)
	if err := printRegions(res.Protrusion); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", *outPath)
	return nil
}

// readBinaryMask reads a NIfTI mask and checks that its labels are 0 and 1 and that it
// has at least one voxel of label 1.
func readBinaryMask(path string) (*volume.Mask, *nifti.Header, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open mask: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("open mask %s: not a regular file (mode %v): protrusion needs a NIfTI mask file", path, info.Mode().Type())
	}
	if base := filepath.Base(path); trimNIfTISuffix(base) == base {
		return nil, nil, fmt.Errorf("open mask %s: not a NIfTI file (.nii or .nii.gz)", path)
	}
	m, hdr, err := nifti.ReadMask(path)
	if err != nil {
		return nil, nil, err
	}

	organVoxels := 0
	for n, l := range m.Labels {
		switch l {
		case 0:
		case 1:
			organVoxels++
		default:
			i, j, k := n%m.Size[0], (n/m.Size[0])%m.Size[1], n/(m.Size[0]*m.Size[1])
			return nil, nil, fmt.Errorf("mask %s is not binary: voxel (%d, %d, %d) has label %d, want 0 or 1: "+
				"convert it to a 0/1 mask of the organ first (for a KiTS label map, label >= 1 is the kidney)", path, i, j, k, l)
		}
	}
	if organVoxels == 0 {
		return nil, nil, fmt.Errorf("mask %s is empty: no voxel has label 1", path)
	}
	return m, hdr, nil
}

// printRegions prints the number of 26-connected protruded regions and the largest
// ones with their volume and bounding box.
func printRegions(m *volume.Mask) error {
	labeling, err := components.Label(m, components.Connectivity26)
	if err != nil {
		return fmt.Errorf("protrusion: %w", err)
	}
	fmt.Printf("protrusion: %d voxels, %.1f mL, regions (26-connected): %d\n", countVoxels(m), maskVolumeML(m), len(labeling.Components))

	regions := slices.Clone(labeling.Components)
	slices.SortStableFunc(regions, func(a, b components.Component) int { return b.VoxelCount - a.VoxelCount })
	for n, r := range regions[:min(len(regions), maxListedRegions)] {
		var extent []string
		for a, axis := range []string{"i", "j", "k"} {
			extent = append(extent, fmt.Sprintf("%s %d–%d", axis, r.BoundingBox.Min[a], r.BoundingBox.Max[a]-1))
		}
		fmt.Printf("region %d: %.2f mL, %d voxels, %s\n", n+1, r.VolumeML, r.VoxelCount, strings.Join(extent, ", "))
	}
	if len(regions) > maxListedRegions {
		fmt.Printf("(%d smaller regions not listed)\n", len(regions)-maxListedRegions)
	}
	return nil
}
