package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"time"

	"protrude/assets"
	"protrude/inference"
	"protrude/volume"
)

// runCheckBundle validates a bundle against its manifest with ONNX Runtime, then runs
// the whole chain once on a small synthetic volume to prove that every net executes.
func runCheckBundle(args []string) error {
	flags := flag.NewFlagSet("check-bundle", flag.ContinueOnError)
	var mf modelFlags
	mf.register(flags)
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	p, err := openPipeline(mf)
	if err != nil {
		return err
	}
	defer p.Close()
	m := p.Bundle().Manifest
	fmt.Printf("bundle %s: manifest and ONNX input/output names and shapes match\n", m.BundleID)
	for _, spec := range []struct {
		role string
		s    inference.ModelSpec
	}{{"base", m.Models.Base}, {"protuberance", m.Models.Protuberance}, {"fusion", m.Models.Fusion}} {
		fmt.Printf("  %-12s %s: %s[%d] -> %s[%d], patch %v\n", spec.role, spec.s.File,
			spec.s.Inputs[0].Name, spec.s.Inputs[0].Channels, spec.s.Outputs[0].Name, spec.s.Outputs[0].Channels,
			m.Inference.PatchSize)
	}

	// A water-filled box just larger than one patch runs every net at least once when
	// the base net marks any kidney, and the base net alone otherwise.
	patch := m.Inference.PatchSize3()
	g := volume.Grid{
		Size:      [3]int{patch[2] + 3, patch[1] + 2, patch[0] + 1},
		SpacingMM: volume.Vec3{1, 1, 1},
		AxesLPS:   volume.IdentityAxesLPS,
	}
	ct := volume.NewVolume(g)
	for i := range ct.Voxels {
		ct.Voxels[i] = 30
	}
	start := time.Now()
	res, err := p.Run(context.Background(), ct, nil)
	if err != nil {
		return fmt.Errorf("check bundle: run on a %v test volume: %w", g.Size, err)
	}
	fmt.Printf("ran the chain on a %v test volume on %s in %s (base %d, protuberance %d, fusion %d patches)\n",
		g.Size, res.Device.Used, time.Since(start).Round(time.Millisecond),
		res.Patches.Base, res.Patches.Protuberance, res.Patches.Fusion)
	fmt.Println("OK")
	return nil
}

func runVersion() error {
	fmt.Println("protrude", version)
	data, err := fs.ReadFile(assets.Models(), "manifest.json")
	if err != nil {
		return fmt.Errorf("read embedded manifest: %w", err)
	}
	var b inference.Manifest
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("parse embedded manifest.json: %w", err)
	}
	fmt.Printf("embedded model bundle: %s (%s preset, trained %s)\n", b.BundleID, b.Provenance.Preset, b.Provenance.Date)
	return nil
}
