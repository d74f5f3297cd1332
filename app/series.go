package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"protrude/internal/atomicfile"
	"protrude/volume"
	"protrude/volume/dicomseries"
	"protrude/volume/nifti"
)

// runSeries lists the image stacks, segmentations and skipped files of a DICOM
// folder. It prints no patient names, IDs or birth dates: only series-level
// elements and geometry.
func runSeries(args []string) error {
	fs := flag.NewFlagSet("series", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: protrude series DIR\n\nLists the DICOM image stacks in DIR and its subfolders, with the key that\nprotrude convert --series takes.\n")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: series takes one DIR, got %d arguments", errUsage, fs.NArg())
	}
	if info, err := os.Stat(fs.Arg(0)); err == nil && !info.IsDir() {
		return fmt.Errorf("%w: series lists the DICOM stacks of a folder, and %s is a file; segment, view and convert read a NIfTI file directly", errUsage, fs.Arg(0))
	}
	c, err := dicomseries.Scan(fs.Arg(0))
	if err != nil {
		return err
	}
	printCatalog(os.Stdout, c)
	return nil
}

// printCatalog writes a human-readable listing of c.
func printCatalog(w io.Writer, c *dicomseries.Catalog) {
	fmt.Fprintf(w, "%s: %s, %s, %s skipped, %s failed\n", c.Dir, count(len(c.Stacks), "image stack"),
		count(len(c.Segmentations), "segmentation"), count(len(c.Skipped), "file"), count(len(c.Failed), "file"))
	for n, st := range c.Stacks {
		fmt.Fprintf(w, "\nstack %d: %s\n", n+1, st.Key)
		fmt.Fprintf(w, "  %s\n", describeStack(st))
		for _, warning := range st.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warning)
		}
		if st.Err != nil {
			fmt.Fprintf(w, "  cannot load: %v\n", st.Err)
		}
	}
	for _, s := range c.Segmentations {
		fmt.Fprintf(w, "\nsegmentation (DICOM SEG, not loaded): %s\n  series %s, %q, %d frames\n", s.Path, s.SeriesInstanceUID, s.SeriesDescription, s.NumFrames)
	}
	if len(c.Skipped) > 0 {
		fmt.Fprintln(w, "\nskipped:")
		for _, s := range c.Skipped {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if len(c.Failed) > 0 {
		fmt.Fprintln(w, "\nfailed:")
		for _, err := range c.Failed {
			fmt.Fprintf(w, "  %v\n", err)
		}
	}
}

// describeStack returns one line with a stack's description, modality, image
// count, grid size and spacing.
func describeStack(st *dicomseries.Stack) string {
	description := st.SeriesDescription
	if description == "" {
		description = "(no description)"
	}
	line := fmt.Sprintf("%q, %s, %s in %s", description, modalityOrNone(st.Modality), count(st.NumImages, "image"), count(st.NumFiles, "file"))
	if st.Err == nil {
		g := st.Grid
		line += fmt.Sprintf(", %d×%d×%d voxels, spacing %.3g×%.3g×%.3g mm", g.Size[0], g.Size[1], g.Size[2], g.SpacingMM[0], g.SpacingMM[1], g.SpacingMM[2])
	}
	return line
}

// count returns "1 file", "2 files" and so on.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func modalityOrNone(modality string) string {
	if modality == "" {
		return "no modality"
	}
	return modality
}

// runConvert loads a NIfTI file or a DICOM stack and writes it as NIfTI, the same
// volume that segment reads.
func runConvert(args []string) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	seriesKey := fs.String("series", "", "`KEY` of the DICOM stack to convert, as protrude series lists it (needed when the folder has more than one)")
	durable := fs.Bool("sync", false, "sync the file to the disk before it takes its name, so that it survives a power cut right after the command (about 0.1 s more per 150 MB)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: protrude convert INPUT OUT.nii[.gz] [--series KEY] [--sync]\n\nWrites the volume Protrude reads from INPUT (a DICOM folder or a NIfTI file) as\nNIfTI in HU: int16 when every value is a whole number in range, else float32.\nA name ending in .gz is compressed.\n\nThe file is written under a temporary name and renamed when complete, so no\nprogram ever sees a partial file at OUT. Like dcm2niix, convert leaves flushing\nto the disk to the system unless --sync is given: OUT can be made again from\nINPUT. Masks and sessions are always synced.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var positional, flags []string
	for n := 0; n < len(args); n++ {
		switch {
		case args[n] == "--series" || args[n] == "-series":
			flags = append(flags, args[n])
			if n+1 < len(args) {
				flags = append(flags, args[n+1])
				n++
			}
		case strings.HasPrefix(args[n], "-"):
			flags = append(flags, args[n])
		default:
			positional = append(positional, args[n])
		}
	}
	if err := parseFlags(fs, flags); err != nil {
		return err
	}
	if len(positional) != 2 {
		fs.Usage()
		return fmt.Errorf("%w: convert takes INPUT and OUT, got %d arguments", errUsage, len(positional))
	}
	input, output := positional[0], positional[1]
	lower := strings.ToLower(output)
	if !strings.HasSuffix(lower, ".nii") && !strings.HasSuffix(lower, ".nii.gz") {
		return fmt.Errorf("%w: OUT %q must end in .nii or .nii.gz", errUsage, output)
	}
	if err := checkOutputFile(output); err != nil {
		return err
	}
	// An interrupted convert removes its temporary file and leaves OUT as it was.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(signals)
		close(signals)
	}()
	go func() {
		sig, ok := <-signals
		if !ok {
			return
		}
		atomicfile.AbortAll()
		fmt.Fprintf(os.Stderr, "protrude: convert stopped by %v; %s was not written\n", sig, output)
		os.Exit(exitCodeForSignal(sig))
	}()

	start := time.Now()
	size, spacingMM, loaded, err := convertInput(input, output, *seriesKey, nifti.WriteOptions{Description: "Protrude convert: " + researchNotice, SkipSync: !*durable})
	if err != nil {
		return err
	}
	slog.Info("converted", "input", input, "output", output, "size", size, "load", loaded.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	fmt.Printf("wrote %s: %d×%d×%d voxels, spacing %.3g×%.3g×%.3g mm\n", output, size[0], size[1], size[2], spacingMM[0], spacingMM[1], spacingMM[2])
	return nil
}

// convertInput writes the volume of input as NIfTI to output and returns its grid
// size, spacing and the time the load took. A DICOM stack whose values int16 holds
// exactly is read into int16 voxels and written from them, which needs half the
// memory of float32 and no conversion per voxel. For a .nii output those slices go to
// the file as they are decoded, and the load time then includes the write. The file
// is the same either way.
func convertInput(input, output, seriesKey string, opts nifti.WriteOptions) (size [3]int, spacingMM volume.Vec3, loaded time.Duration, err error) {
	start := time.Now()
	var st *study
	if fi, statErr := os.Stat(input); statErr == nil && fi.IsDir() {
		c, stack, err := scanForStack(input, seriesKey)
		if err != nil {
			return size, spacingMM, 0, err
		}
		if err := checkNotInput(c, output); err != nil {
			return size, spacingMM, 0, err
		}
		var grid volume.Grid
		if isUncompressedNIfTI(output) {
			grid, err = streamInt16(c, stack, output, opts)
			if err == nil {
				return grid.Size, grid.SpacingMM, time.Since(start), nil
			}
		} else {
			var v *volume.Int16Volume
			var info *dicomseries.SeriesInfo
			if v, info, err = c.LoadInt16(stack); err == nil {
				loaded = time.Since(start)
				printWarnings(info.Warnings)
				return v.Size, v.SpacingMM, loaded, nifti.WriteInt16Volume(output, v, opts)
			}
		}
		if !errors.Is(err, dicomseries.ErrNotInt16) {
			return size, spacingMM, 0, err
		}
		slog.Info("converting through float32", "reason", err)
		if st, err = loadStack(c, stack); err != nil {
			return size, spacingMM, 0, err
		}
	} else if st, err = loadStudySeries(input, seriesKey); err != nil {
		return size, spacingMM, 0, err
	}
	loaded = time.Since(start)
	printWarnings(st.Warnings)
	opts.Template = st.NIfTIHeader
	return st.CT.Size, st.CT.SpacingMM, loaded, nifti.WriteVolume(output, st.CT, opts)
}

// exitCodeForSignal is the shell's exit status for a process ended by sig: 128 plus
// the signal number.
func exitCodeForSignal(sig os.Signal) int {
	if number, ok := sig.(syscall.Signal); ok {
		return 128 + int(number)
	}
	return 1
}

// checkOutputFile fails when path is a folder or its folder does not exist, before any
// work is done.
func checkOutputFile(path string) error {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		return fmt.Errorf("%w: OUT %s is a folder; give a file name ending in .nii or .nii.gz", errUsage, path)
	}
	folder := filepath.Dir(path)
	if info, err := os.Stat(folder); err != nil || !info.IsDir() {
		return fmt.Errorf("%w: the folder %s of OUT %s does not exist", errUsage, folder, path)
	}
	return nil
}

// checkNotInput fails when output is one of the files the scan of c read, which
// convert would otherwise overwrite with its own result.
func checkNotInput(c *dicomseries.Catalog, output string) error {
	info, err := os.Stat(output)
	if err != nil {
		return nil
	}
	if input := c.FileLike(info); input != "" {
		return fmt.Errorf("%w: OUT %s is the DICOM file %s of the input; choose another name", errUsage, output, input)
	}
	return nil
}

// isUncompressedNIfTI reports whether path names a .nii file, whose slices can be
// written at their offsets as they are decoded.
func isUncompressedNIfTI(path string) bool {
	return strings.HasSuffix(strings.ToLower(path), ".nii")
}

// streamInt16 converts stack into the .nii file output a slice at a time: each slice
// goes to the file as soon as it is decoded, so decoding and the disk overlap and no
// whole volume is held in memory. On an error nothing is left at output; an error
// wrapping dicomseries.ErrNotInt16 means the stack needs the float32 path.
func streamInt16(c *dicomseries.Catalog, stack *dicomseries.Stack, output string, opts nifti.WriteOptions) (volume.Grid, error) {
	var w *nifti.Int16SliceWriter
	var grid volume.Grid
	info, err := c.LoadInt16Slices(stack,
		func(g volume.Grid) error {
			grid = g
			var err error
			w, err = nifti.CreateInt16Slices(output, g, opts)
			return err
		},
		func(k int, values []int16) error { return w.WriteSlice(k, values) })
	if w != nil {
		defer w.Abort()
	}
	if err != nil {
		return grid, err
	}
	printWarnings(info.Warnings)
	return grid, w.Commit()
}

// printWarnings prints each input warning on its own line.
func printWarnings(warnings []string) {
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
}
