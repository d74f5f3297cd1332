package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

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
	c, err := dicomseries.Scan(fs.Arg(0))
	if err != nil {
		return err
	}
	printCatalog(os.Stdout, c)
	return nil
}

// printCatalog writes a human-readable listing of c.
func printCatalog(w io.Writer, c *dicomseries.Catalog) {
	fmt.Fprintf(w, "%s: %d image stacks, %d segmentations, %d files skipped, %d files failed\n",
		c.Dir, len(c.Stacks), len(c.Segmentations), len(c.Skipped), len(c.Failed))
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
	line := fmt.Sprintf("%q, %s, %d images in %d files", description, modalityOrNone(st.Modality), st.NumImages, st.NumFiles)
	if st.Err == nil {
		g := st.Grid
		line += fmt.Sprintf(", %d×%d×%d voxels, spacing %.3g×%.3g×%.3g mm", g.Size[0], g.Size[1], g.Size[2], g.SpacingMM[0], g.SpacingMM[1], g.SpacingMM[2])
	}
	return line
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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: protrude convert INPUT OUT.nii[.gz] [--series KEY]\n\nWrites the volume Protrude reads from INPUT (a DICOM folder or a NIfTI file) as\nNIfTI in HU: int16 when every value is a whole number in range, else float32.\nA name ending in .gz is compressed.\n\nFlags:\n")
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

	start := time.Now()
	st, err := loadStudySeries(input, *seriesKey)
	if err != nil {
		return err
	}
	loaded := time.Since(start)
	for _, w := range st.Warnings {
		fmt.Println("warning:", w)
	}
	if err := nifti.WriteVolume(output, st.CT, nifti.WriteOptions{Description: "Protrude convert", Template: st.NIfTIHeader}); err != nil {
		return err
	}
	slog.Info("converted", "input", input, "output", output, "size", st.CT.Size, "load", loaded.Round(time.Millisecond), "total", time.Since(start).Round(time.Millisecond))
	fmt.Printf("wrote %s: %d×%d×%d voxels, spacing %.3g×%.3g×%.3g mm\n", output, st.CT.Size[0], st.CT.Size[1], st.CT.Size[2], st.CT.SpacingMM[0], st.CT.SpacingMM[1], st.CT.SpacingMM[2])
	return nil
}
