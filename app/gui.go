package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"protrude/assets"
	"protrude/inference"
	"protrude/overlays"
	"protrude/viewer"
)

// errNoDisplay is returned when the viewer is started without a display.
var errNoDisplay = errors.New("the viewer needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set.\n" +
	"To segment a scan without a display, run:\n" +
	"  protrude segment INPUT -o OUTDIR\n" +
	"INPUT is a NIfTI file or a DICOM folder; see protrude segment -h")

// hasDisplay reports whether a GUI can open a window here.
func hasDisplay() bool {
	if runtime.GOOS != "linux" && runtime.GOOS != "freebsd" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

func runViewer(args []string) error {
	fs := flag.NewFlagSet("view", flag.ContinueOnError)
	var mf modelFlags
	mf.register(fs)
	runNow := fs.Bool("run", false, "run the three networks as soon as the scan is open")
	startSlice := fs.Int("slice", 0, "axial `slice` to show after opening and after a run (1 is the most inferior; 0 chooses one)")
	input, rest := splitPositional(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if !hasDisplay() {
		return errNoDisplay
	}

	a := fyneapp.NewWithID("io.github.protrude")
	ui := newViewerUI(a, mf)
	ui.startSlice = *startSlice
	ui.win.Show()

	go func() {
		var err error
		if input == "" {
			err = ui.openDemo()
		} else {
			err = ui.openPath(input)
		}
		if err != nil {
			fyne.Do(func() { ui.showError("Open failed", err) })
			return
		}
		if *runNow {
			fyne.Do(ui.startRun)
		}
	}()
	a.Run()
	ui.shutdown()
	return nil
}

// viewerUI is the main window: the axial view, the layer controls, Run and Cancel.
type viewerUI struct {
	app fyne.App
	win fyne.Window
	mf  modelFlags

	study  *study
	layers []*overlays.Layer

	view         *viewer.SliceView
	sliceSlider  *widget.Slider
	sliceLabel   *widget.Label
	status       *widget.Label
	stageLabel   *widget.Label
	progress     *widget.ProgressBar
	runButton    *widget.Button
	cancelButton *widget.Button
	layerBox     *fyne.Container
	windowSel    *widget.Select

	pipeline  *inference.Pipeline
	cancelRun context.CancelFunc
	// hoverPos is the last pointer position over the view, so the HU readout can be
	// updated when the slice changes under a still pointer. hovering is false once it
	// leaves.
	hoverPos fyne.Position
	hovering bool
	// startSlice is the 1-based slice from --slice, or 0.
	startSlice int
}

func newViewerUI(a fyne.App, mf modelFlags) *viewerUI {
	ui := &viewerUI{app: a, mf: mf}
	ui.win = a.NewWindow("Protrude — " + researchNotice)
	ui.layers = overlays.DefaultLayers(nil, nil, nil)

	ui.view = viewer.NewSliceView()
	ui.view.OnSliceChanged = ui.sliceChanged
	ui.view.OnHover = ui.hover
	ui.view.OnPointer = func(p fyne.Position, inside bool) { ui.hoverPos, ui.hovering = p, inside }
	ui.view.OnError = func(err error) { slog.Error("render slice", "err", err) }

	ui.sliceSlider = widget.NewSlider(0, 1)
	ui.sliceSlider.Step = 1
	ui.sliceSlider.OnChanged = func(v float64) { ui.view.SetSlice(int(v)) }
	ui.sliceLabel = widget.NewLabel("Slice –")
	ui.status = widget.NewLabel("Open a NIfTI file or a DICOM folder.")
	ui.stageLabel = widget.NewLabel("")
	ui.progress = widget.NewProgressBar()

	ui.runButton = widget.NewButtonWithIcon("Run", theme.MediaPlayIcon(), ui.startRun)
	ui.runButton.Importance = widget.HighImportance
	ui.runButton.Disable()
	ui.cancelButton = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), ui.cancel)
	ui.cancelButton.Disable()

	names := make([]string, len(viewer.Presets))
	for i, p := range viewer.Presets {
		names[i] = p.String()
	}
	ui.windowSel = widget.NewSelect(names, func(name string) {
		for _, p := range viewer.Presets {
			if p.String() == name {
				ui.view.SetWindow(p)
			}
		}
	})
	ui.windowSel.SetSelected(viewer.AbdomenWindow.String())

	ui.layerBox = container.NewVBox()
	ui.rebuildLayerControls()

	notice := canvas.NewText(researchNotice, color.NRGBA{R: 220, G: 40, B: 40, A: 255})
	notice.TextStyle = fyne.TextStyle{Bold: true}
	notice.Alignment = fyne.TextAlignCenter

	side := container.NewVBox(
		widget.NewLabelWithStyle("Window", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		ui.windowSel,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Layers", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		ui.layerBox,
	)
	toolbar := container.NewHBox(
		widget.NewButtonWithIcon("Open file…", theme.FileIcon(), ui.openFileDialog),
		widget.NewButtonWithIcon("Open DICOM folder…", theme.FolderOpenIcon(), ui.openFolderDialog),
		widget.NewSeparator(),
		ui.runButton, ui.cancelButton, ui.stageLabel,
	)
	top := container.NewVBox(toolbar, ui.progress)
	bottom := container.NewVBox(
		container.NewBorder(nil, nil, ui.sliceLabel, nil, ui.sliceSlider),
		container.NewBorder(nil, nil, nil, notice, ui.status),
	)
	content := container.NewBorder(top, bottom, nil, container.NewPadded(side), ui.view)

	ui.win.SetContent(content)
	ui.win.SetMainMenu(ui.mainMenu())
	ui.win.Resize(fyne.NewSize(1200, 860))
	ui.win.Canvas().SetOnTypedKey(ui.typedKey)
	return ui
}

func (ui *viewerUI) mainMenu() *fyne.MainMenu {
	file := fyne.NewMenu("File",
		fyne.NewMenuItem("Open NIfTI file…", ui.openFileDialog),
		fyne.NewMenuItem("Open DICOM folder…", ui.openFolderDialog),
		fyne.NewMenuItem("Open demo case", func() { go ui.openInBackground(ui.openDemo) }),
	)
	help := fyne.NewMenu("Help", fyne.NewMenuItem("About Protrude", ui.showAbout))
	return fyne.NewMainMenu(file, help)
}

// rebuildLayerControls makes one row per layer: visibility, colour and opacity.
func (ui *viewerUI) rebuildLayerControls() {
	ui.layerBox.RemoveAll()
	for _, l := range ui.layers {
		l := l
		swatch := canvas.NewRectangle(l.Color)
		swatch.SetMinSize(fyne.NewSize(14, 14))
		check := widget.NewCheck(l.Name, func(on bool) {
			l.Visible = on
			ui.view.Refresh()
		})
		check.SetChecked(l.Visible)
		opacity := widget.NewSlider(0, 1)
		opacity.Step = 0.05
		opacity.SetValue(l.Opacity)
		opacity.OnChanged = func(v float64) {
			l.Opacity = v
			ui.view.Refresh()
		}
		row := container.NewBorder(nil, nil, container.NewCenter(swatch), nil, check)
		ui.layerBox.Add(container.NewVBox(row, container.NewBorder(nil, nil, widget.NewLabel("Opacity"), nil, opacity)))
	}
	ui.layerBox.Refresh()
}

func (ui *viewerUI) typedKey(ev *fyne.KeyEvent) {
	switch ev.Name {
	case fyne.KeyUp:
		ui.view.SetSlice(ui.view.Slice() + 1)
	case fyne.KeyDown:
		ui.view.SetSlice(ui.view.Slice() - 1)
	case fyne.KeyPageUp:
		ui.view.SetSlice(ui.view.Slice() + 10)
	case fyne.KeyPageDown:
		ui.view.SetSlice(ui.view.Slice() - 10)
	case fyne.KeyHome:
		ui.view.SetSlice(0)
	case fyne.KeyEnd:
		ui.view.SetSlice(ui.view.Slices() - 1)
	}
}

func (ui *viewerUI) sliceChanged(s int) {
	ui.sliceLabel.SetText(fmt.Sprintf("Slice %d / %d", s+1, ui.view.Slices()))
	if ui.hovering {
		ui.hover(ui.view.HoverAt(ui.hoverPos))
	} else {
		ui.status.SetText(fmt.Sprintf("Slice %d / %d", s+1, ui.view.Slices()))
	}
	if int(ui.sliceSlider.Value) != s {
		ui.sliceSlider.SetValue(float64(s))
	}
}

func (ui *viewerUI) hover(h viewer.HoverInfo) {
	if !h.Inside {
		if ui.view.Slices() > 0 {
			ui.status.SetText(fmt.Sprintf("Slice %d / %d", ui.view.Slice()+1, ui.view.Slices()))
		}
		return
	}
	ui.status.SetText(fmt.Sprintf("Slice %d / %d   voxel (%d, %d, %d)   LPS (%.1f, %.1f, %.1f) mm   %.0f HU",
		h.Slice+1, ui.view.Slices(), h.Index[0], h.Index[1], h.Index[2],
		h.PositionLPS[0], h.PositionLPS[1], h.PositionLPS[2], h.HU))
}

func (ui *viewerUI) openFileDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			ui.showError("Open failed", err)
			return
		}
		if r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		go ui.openInBackground(func() error { return ui.openPath(path) })
	}, ui.win)
	d.Resize(fyne.NewSize(900, 640))
	d.Show()
}

func (ui *viewerUI) openFolderDialog() {
	d := dialog.NewFolderOpen(func(l fyne.ListableURI, err error) {
		if err != nil {
			ui.showError("Open failed", err)
			return
		}
		if l == nil {
			return
		}
		path := l.Path()
		go ui.openInBackground(func() error { return ui.openPath(path) })
	}, ui.win)
	d.Resize(fyne.NewSize(900, 640))
	d.Show()
}

func (ui *viewerUI) openInBackground(open func() error) {
	if err := open(); err != nil {
		fyne.Do(func() { ui.showError("Open failed", err) })
	}
}

// openDemo opens the embedded demo phantom. It runs off the UI goroutine.
func (ui *viewerUI) openDemo() error {
	path, cleanup, err := assets.DemoCaseFile()
	if err != nil {
		return err
	}
	defer cleanup()
	st, err := loadStudy(path)
	if err != nil {
		return err
	}
	st.Path = "demo phantom (embedded)"
	fyne.Do(func() { ui.showStudy(st) })
	return nil
}

// openPath loads a NIfTI file or DICOM folder. It runs off the UI goroutine.
func (ui *viewerUI) openPath(path string) error {
	fyne.Do(func() { ui.stageLabel.SetText("Loading " + filepath.Base(path) + "…") })
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		err := ui.openDICOMFolder(path)
		if err != nil {
			fyne.Do(func() { ui.stageLabel.SetText("") })
		}
		return err
	}
	start := time.Now()
	st, err := loadStudy(path)
	if err != nil {
		fyne.Do(func() { ui.stageLabel.SetText("") })
		return err
	}
	slog.Info("study opened", "size", st.CT.Size, "spacing_mm", st.CT.SpacingMM, "duration", time.Since(start).Round(time.Millisecond))
	fyne.Do(func() { ui.showStudy(st) })
	return nil
}

func (ui *viewerUI) showStudy(st *study) {
	ui.cancel()
	ui.study = st
	ui.layers = overlays.DefaultLayers(nil, nil, nil)
	ui.rebuildLayerControls()
	// The slider range must be set before SetVolume reports the first slice to it.
	ui.sliceSlider.Max = float64(max(viewer.NewAxialFrame(st.CT.Grid).Slices()-1, 1))
	ui.view.SetVolume(st.CT, ui.layers)
	if ui.startSlice > 0 {
		ui.view.SetSlice(ui.startSlice - 1)
	}
	ui.win.SetTitle(fmt.Sprintf("Protrude — %s — %s", filepath.Base(st.Path), researchNotice))
	status := fmt.Sprintf("%d×%d×%d, %.2g×%.2g×%.2g mm", st.CT.Size[0], st.CT.Size[1], st.CT.Size[2],
		st.CT.SpacingMM[0], st.CT.SpacingMM[1], st.CT.SpacingMM[2])
	if len(st.Warnings) > 0 {
		status += fmt.Sprintf(" — %d input warnings", len(st.Warnings))
	}
	ui.stageLabel.SetText(status)
	ui.progress.SetValue(0)
	ui.runButton.Enable()
	if len(st.Warnings) > 0 {
		dialog.ShowInformation("Check the input", strings.Join(st.Warnings, "\n"), ui.win)
	}
}

// startRun runs the three networks in the background. It is called on the UI goroutine.
func (ui *viewerUI) startRun() {
	if ui.study == nil || ui.cancelRun != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ui.cancelRun = cancel
	ui.runButton.Disable()
	ui.cancelButton.Enable()
	ui.progress.SetValue(0)
	ui.stageLabel.SetText("Loading models…")
	st := ui.study

	go func() {
		res, err := ui.runPipeline(ctx, st)
		fyne.Do(func() {
			ui.cancelRun = nil
			cancel()
			ui.cancelButton.Disable()
			ui.runButton.Enable()
			if ui.study != st {
				return // another scan was opened meanwhile
			}
			switch {
			case errors.Is(err, context.Canceled):
				ui.stageLabel.SetText("Cancelled")
				ui.progress.SetValue(0)
			case err != nil:
				ui.stageLabel.SetText("Failed")
				ui.showError("Run failed", err)
			default:
				ui.showResult(res)
			}
		})
	}()
}

func (ui *viewerUI) runPipeline(ctx context.Context, st *study) (*inference.Result, error) {
	if ui.pipeline == nil {
		p, err := openPipeline(ui.mf)
		if err != nil {
			return nil, err
		}
		ui.pipeline = p
	}
	start := time.Now()
	res, err := ui.pipeline.Run(ctx, st.CT, func(p inference.Progress) {
		fyne.Do(func() {
			ui.progress.SetValue(p.Fraction)
			ui.stageLabel.SetText(fmt.Sprintf("%s: patch %d / %d", p.Stage, p.Done, p.Total))
		})
	})
	if err == nil {
		slog.Info("run finished", "duration", time.Since(start).Round(time.Millisecond))
	}
	return res, err
}

func (ui *viewerUI) showResult(res *inference.Result) {
	ui.progress.SetValue(1)
	ui.layers[0].Mask = res.Kidney
	ui.layers[1].Mask = res.Protrusion
	ui.layers[2].Mask = res.Tumor
	ui.view.SetLayers(ui.layers)
	ui.stageLabel.SetText(fmt.Sprintf("Done on %s: kidney %.0f mL, protrusion %.1f mL, tumor %.1f mL",
		res.Device.Used, maskVolumeML(res.Kidney), maskVolumeML(res.Protrusion), maskVolumeML(res.Tumor)))
	if ui.startSlice > 0 {
		ui.view.SetSlice(ui.startSlice - 1)
	} else if best := slicesWithLabels(ui.view.Frame(), res.Tumor, 1); len(best) > 0 {
		ui.view.SetSlice(best[0])
	} else if k := slicesWithLabels(ui.view.Frame(), res.Kidney, 3); len(k) > 0 {
		ui.view.SetSlice(k[len(k)/2])
	}
	warnings := resultWarnings(res)
	if w := kidneyContrastWarning(ui.study.CT, res.Kidney); w != "" {
		warnings = append(warnings, w)
	}
	if len(warnings) > 0 {
		dialog.ShowInformation("Check the result", strings.Join(warnings, "\n"), ui.win)
	}
}

func (ui *viewerUI) cancel() {
	if ui.cancelRun != nil {
		ui.cancelRun()
		ui.stageLabel.SetText("Cancelling…")
	}
}

func (ui *viewerUI) showError(title string, err error) {
	slog.Error(title, "err", err)
	dialog.ShowError(fmt.Errorf("%s: %w", title, err), ui.win)
}

func (ui *viewerUI) showAbout() {
	text := "Protrude finds kidney tumors, including isodense ones, on non-contrast CT.\n\n" +
		researchNotice + ".\n\n" + assets.AboutText()
	if b, err := loadBundle(ui.mf.modelsDir); err == nil {
		text += "\n\nModel bundle: " + b.Manifest.BundleID + "\n" + b.Manifest.Description
	}
	label := widget.NewLabel(text)
	label.Wrapping = fyne.TextWrapWord
	about := dialog.NewCustom("About Protrude", "Close", container.NewVScroll(label), ui.win)
	about.Resize(fyne.NewSize(640, 420))
	about.Show()
}

func (ui *viewerUI) shutdown() {
	if ui.cancelRun != nil {
		ui.cancelRun()
	}
	if ui.pipeline != nil {
		ui.pipeline.Close()
	}
}
