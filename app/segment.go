package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"protrude/inference"
	"protrude/lesions"
	"protrude/overlays"
	"protrude/seg"
	"protrude/viewer"
	"protrude/volume"
)

// Output formats of protrude segment.
const (
	formatNIfTI = "nifti"
	formatSEG   = "seg"
	formatBoth  = "both"
)

func runSegment(args []string) error {
	fs := flag.NewFlagSet("segment", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	outDir := fs.String("o", "", "output `folder` for the masks and the montage (required)")
	seriesKey := fs.String("series", "", "`KEY` of the DICOM stack to segment, as protrude series lists it (needed when the folder has more than one)")
	format := fs.String("format", formatNIfTI, "mask `format`: nifti (one file per layer and labels.nii.gz), seg (segmentation.dcm, DICOM input only) or both; lesions.json comes with each")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: protrude segment [flags] INPUT -o OUTDIR\n\nINPUT is a NIfTI file (.nii, .nii.gz) or a folder with DICOM CT images.\n\nFlags:\n")
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
		return fmt.Errorf("%w: segment takes one INPUT (%q), but got more arguments: %q", errUsage, input, fs.Args())
	}
	if input == "" || *outDir == "" {
		fs.Usage()
		return fmt.Errorf("%w: segment needs INPUT and -o OUTDIR", errUsage)
	}
	if *format != formatNIfTI && *format != formatSEG && *format != formatBoth {
		return fmt.Errorf("%w: --format is %q, want nifti, seg or both", errUsage, *format)
	}

	start := time.Now()
	st, err := loadStudySeries(input, *seriesKey)
	if err != nil {
		return err
	}
	// Match the series' images to the grid before the minutes of inference, so that a
	// series the SEG cannot refer to fails fast.
	var segSource *seg.Source
	if *format != formatNIfTI {
		if st.Series == nil {
			return fmt.Errorf("%w: --format %s writes a DICOM SEG, which must refer to a DICOM series, but %s is a NIfTI file; use --format nifti", errUsage, *format, input)
		}
		if segSource, err = seg.ReadSource(st.Path, st.CT.Grid); err != nil {
			return err
		}
	}
	loadTime := time.Since(start)

	// Create the output folder once the input has loaded, but before the minutes of
	// inference, so that a bad -o fails fast and a bad input leaves no folder behind.
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("create output folder: %w", err)
	}
	fmt.Printf("input: %d×%d×%d voxels, spacing %.3g×%.3g×%.3g mm\n",
		st.CT.Size[0], st.CT.Size[1], st.CT.Size[2], st.CT.SpacingMM[0], st.CT.SpacingMM[1], st.CT.SpacingMM[2])
	for _, w := range st.Warnings {
		fmt.Println("warning:", w)
	}

	pipeline, err := openPipeline(mf)
	if err != nil {
		return err
	}
	defer pipeline.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lastStage inference.Stage
	lastTenth := 0
	res, err := pipeline.Run(ctx, st.CT, func(p inference.Progress) {
		if p.Stage != lastStage {
			lastStage, lastTenth = p.Stage, 0
			slog.Info("stage started", "stage", p.Stage, "patches", p.Total)
		}
		// A network stage on the CPU can take minutes, so log each tenth of its patches.
		if p.Total >= 10 && 10*p.Done/p.Total > lastTenth {
			lastTenth = 10 * p.Done / p.Total
			slog.Info("stage progress", "stage", p.Stage, "patches_done", p.Done, "patches", p.Total)
		}
	})
	if err != nil {
		return err
	}
	// The warnings are about the masks, so they come last, after the volumes, where a
	// reader of the output looks for the result.
	warnings := append(resultWarnings(res), contrastWarnings(st.CT, res.Kidney)...)

	writeStart := time.Now()
	set := &maskSet{layers: seg.Layers{Kidney: res.Kidney, Protrusion: res.Protrusion, Tumor: res.Tumor, BaseTumor: res.BaseTumor}}
	if set.lesions, err = lesions.Measure(res.Tumor, st.CT); err != nil {
		return fmt.Errorf("measure the lesions of the tumor mask: %w", err)
	}
	// The masks, the lesion table and the montage replace those of an earlier run all
	// together, so a failed write never leaves new masks beside an old montage or the
	// reverse.
	files := maskOutputFiles(st, set, *format, segSource)
	files = append(files, outputFile{"montage.png", func(path string) error { return writeMontage(path, st.CT, res) }})
	if err := writeOutputSet(*outDir, files); err != nil {
		return err
	}
	writeTime := time.Since(writeStart)

	fmt.Printf("device: %s\n", res.Device.Used)
	fmt.Printf("time: load %s\n", loadTime.Round(time.Millisecond))
	stages := []struct {
		name     string
		duration time.Duration
		patches  int
	}{
		{"resample to 1 mm", res.Durations.Resample, 0},
		{"base net", res.Durations.Base, res.Patches.Base},
		{"protuberance net", res.Durations.Protuberance, res.Patches.Protuberance},
		{"fusion net", res.Durations.Fusion, res.Patches.Fusion},
		{"resample back", res.Durations.ResampleBack, 0},
	}
	for _, s := range stages {
		fmt.Printf("time: %s %s", s.name, s.duration.Round(time.Millisecond))
		if s.patches > 0 {
			fmt.Printf(" (%d patches)", s.patches)
		}
		fmt.Println()
	}
	fmt.Printf("time: write %s\n", writeTime.Round(time.Millisecond))
	fmt.Printf("time: total %s\n", time.Since(start).Round(time.Millisecond))
	fmt.Printf("peak memory: %d MiB (maximum resident set size)\n", peakRSSMiB())
	for _, o := range set.perLayerFiles() {
		fmt.Printf("%s: %d voxels, %.1f mL\n", o.name, countVoxels(o.mask), maskVolumeML(o.mask))
	}
	fmt.Printf("lesions: %d tumor components\n", len(set.lesions.Lesions))
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	fmt.Printf("wrote %s\n", *outDir)
	return nil
}

// splitPositional takes the first argument that is not a flag or a flag value as the
// input, so that flags may come before or after it.
func splitPositional(args []string) (string, []string) {
	valueFlags := map[string]bool{"-o": true, "--o": true, "-models": true, "--models": true,
		"-device": true, "--device": true, "-ort-lib": true, "--ort-lib": true,
		"-slice": true, "--slice": true, "-series": true, "--series": true,
		"-format": true, "--format": true, "-session": true, "--session": true}
	var rest []string
	input := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case valueFlags[a] && i+1 < len(args):
			rest = append(rest, a, args[i+1])
			i++
		case len(a) > 1 && a[0] == '-':
			rest = append(rest, a)
		case input == "":
			input = a
		default:
			rest = append(rest, a)
		}
	}
	return input, rest
}

// writeMontage renders up to 12 axial slices through the kidneys with the overlays.
func writeMontage(path string, ct *volume.Volume, res *inference.Result) error {
	frame := viewer.NewAxialFrame(ct.Grid)
	slices := slicesWithLabels(frame, res.Kidney, 12)
	if len(slices) == 0 {
		slices = []int{frame.Slices() / 2}
	}
	layers := overlays.DefaultLayers(res.Kidney, res.Protrusion, res.Tumor)
	img, err := viewer.Montage(ct, frame, slices, viewer.AbdomenWindow, layers, 4, 1.0)
	if err != nil {
		return err
	}
	return writePNGAtomic(path, img)
}

// slicesWithLabels returns up to n evenly spaced axial slices that contain mask voxels.
func slicesWithLabels(frame viewer.AxialFrame, m *volume.Mask, n int) []int {
	var with []int
	for s := 0; s < frame.Slices(); s++ {
		sm := frame.SliceMap(s)
		for _, off := range sm.Offsets {
			if off >= 0 && m.Labels[off] != 0 {
				with = append(with, s)
				break
			}
		}
	}
	if len(with) <= n {
		return with
	}
	picked := make([]int, n)
	for i := range picked {
		picked[i] = with[i*(len(with)-1)/(n-1)]
	}
	return picked
}

// maxPlausibleKidneyML is the largest total kidney volume accepted without a warning.
// Two adult kidneys measure about 250–400 mL together; large tumors add to that.
const maxPlausibleKidneyML = 1000

// resultWarnings returns the pipeline's warnings plus a warning when the kidney mask is
// implausibly large, which means the base net marked other tissue as kidney.
func resultWarnings(res *inference.Result) []string {
	warnings := append([]string(nil), res.Warnings...)
	if ml := maskVolumeML(res.Kidney); ml > maxPlausibleKidneyML {
		warnings = append(warnings, fmt.Sprintf("the kidney mask is %.0f mL, more than the %d mL two kidneys with large tumors would plausibly measure: "+
			"the base net has marked other tissue as kidney, so do not trust the protrusion and tumor layers", ml, maxPlausibleKidneyML))
	}
	return warnings
}
