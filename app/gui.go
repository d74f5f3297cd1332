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
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"protrude/assets"
	"protrude/inference"
	"protrude/overlays"
	"protrude/viewer"
	"protrude/volume"
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
	startSlice := fs.Int("slice", 0, "axial `slice` to show after opening and after a run (1 is the most inferior; 0 shows the tumor's centre)")
	sessionPath := fs.String("session", "", "open the session `folder` that File > Save session wrote (or its session.json) instead of a scan")
	input, rest := splitPositional(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if input != "" && *sessionPath != "" {
		return fmt.Errorf("%w: give a scan or --session, not both", errUsage)
	}
	if !hasDisplay() {
		return errNoDisplay
	}

	a := fyneapp.NewWithID("io.github.protrude")
	ui := newViewerUI(a, mf)
	ui.startSlice = *startSlice
	if root, err := recoveryRoot(); err != nil {
		slog.Warn("autosave is off", "err", err)
	} else {
		ui.enableAutosave(root)
	}
	quitOnSignal(a)
	ui.win.Show()

	go ui.offerRecovery(func() { ui.openAtStart(input, *sessionPath, *runNow) })
	a.Run()
	ui.shutdown()
	return nil
}

// viewerUI is the main window: the three linked views, the layer controls, the edit
// tools, the lesion list, Run and Cancel.
type viewerUI struct {
	app fyne.App
	win fyne.Window
	mf  modelFlags
	// changes counts the changes to the masks and the review (markSessionChanged).
	changes uint64
	// savedChanges is changeCount when the session last matched what the user has on
	// disk: after a scan or session was opened, or a Save session finished. Quitting
	// with more changes than that needs a confirmation (confirmQuit).
	savedChanges uint64
	// changesAfterRun is changeCount just after the last run showed its result.
	changesAfterRun uint64
	// sessionDir is the session folder the open scan was opened from or last saved
	// to, where Save session writes without asking, or "".
	sessionDir string
	// holdStageUntil keeps a message in the stage label until then, against progress
	// reports.
	holdStageUntil time.Time
	// lastExportDir and lastExportFormat are the choices of the last Export masks for
	// the open scan, which the next one starts from.
	lastExportDir, lastExportFormat string
	// unsavedRecovery marks a session recovered after a crash, which no saved
	// session contains, so quitting needs a confirmation even before any new change.
	unsavedRecovery bool

	study  *study
	layers []*overlays.Layer

	views        *viewer.TriView
	sliceSlider  *widget.Slider
	sliceLabel   *widget.Label
	status       *widget.Label
	stageLabel   *widget.Label
	progress     *widget.ProgressBar
	runButton    *widget.Button
	rerunButton  *widget.Button
	cancelButton *widget.Button
	rerunItem    *fyne.MenuItem
	runMenu      *fyne.Menu
	layerBox     *fyne.Container
	windowSel    *widget.Select
	windowLabel  *widget.Label
	layoutSel    *widget.Select

	pipeline  *inference.Pipeline
	cancelRun context.CancelFunc
	// last is the output of the last run or re-run of this scan, or nil before the
	// first run.
	last *lastRun
	// hover is the voxel under the pointer, or Inside false when the pointer is over
	// no view. activeView is the view the pointer was last over, which the slice keys
	// and the maximize key act on.
	hover      viewer.HoverInfo
	activeView viewer.Orientation
	// startSlice is the 1-based slice from --slice, or 0.
	startSlice int

	tools      *editTools
	lesionList *lesionPanel

	// bundleID is the model bundle whose run made the layers' masks, or "".
	bundleID string
	// autosave writes recovery data after changes; nil turns autosave off, as in tests.
	autosave *autosaver
}

func newViewerUI(a fyne.App, mf modelFlags) *viewerUI {
	ui := &viewerUI{app: a, mf: mf}
	ui.win = a.NewWindow("Protrude — " + researchNotice)
	ui.win.SetCloseIntercept(ui.confirmQuit)
	ui.layers = defaultViewerLayers()

	ui.views = viewer.NewTriView()
	ui.views.View(viewer.Axial).OnSliceChanged = ui.sliceChanged
	ui.views.OnHover = ui.hoverChanged
	ui.views.OnCursorChanged = func([3]int) { ui.updateStatus() }
	ui.views.OnWindowChanged = ui.windowChanged
	ui.views.OnMaximizeChanged = ui.maximizeChanged
	for _, o := range viewer.Orientations {
		ui.views.View(o).OnError = func(err error) { slog.Error("render slice", "view", o.String(), "err", err) }
	}

	ui.sliceSlider = widget.NewSlider(0, 1)
	ui.sliceSlider.Step = 1
	ui.sliceSlider.OnChanged = func(v float64) { ui.views.SetSlice(viewer.Axial, int(v)) }
	ui.sliceLabel = widget.NewLabel("Axial slice –")
	ui.status = widget.NewLabel("Open a NIfTI file or a DICOM folder.")
	ui.status.Truncation = fyne.TextTruncateEllipsis
	ui.stageLabel = widget.NewLabel("")
	ui.progress = widget.NewProgressBar()
	// By default an empty bar reads "0%", which looks like a stalled job before the
	// first Run. So it shows a percentage only while a job runs or after one finished.
	ui.progress.TextFormatter = func() string {
		if ui.cancelRun == nil && ui.progress.Value == 0 {
			if ui.last != nil {
				return "Stopped; the layers show the last finished run"
			}
			for _, l := range ui.layers {
				if l.Mask != nil {
					return "Not run in this window; the layers come from files or painting"
				}
			}
			return "Not run"
		}
		return fmt.Sprintf("%.0f%%", 100*ui.progress.Value)
	}

	ui.runButton = widget.NewButtonWithIcon("Run", theme.MediaPlayIcon(), ui.askToRun())
	ui.runButton.Importance = widget.HighImportance
	ui.runButton.Disable()
	ui.rerunButton = widget.NewButtonWithIcon("Re-run later stages", theme.ViewRefreshIcon(), ui.startRerun)
	ui.rerunButton.Disable()
	ui.cancelButton = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), ui.cancel)
	ui.cancelButton.Disable()

	names := make([]string, len(viewer.Presets))
	for i, p := range viewer.Presets {
		names[i] = p.String()
	}
	ui.windowLabel = widget.NewLabel("")
	ui.windowSel = widget.NewSelect(names, func(name string) {
		for _, p := range viewer.Presets {
			if p.String() == name {
				ui.views.SetWindow(p)
				ui.windowLabel.SetText(windowText(p))
			}
		}
		ui.keysToViews()
	})
	ui.windowSel.PlaceHolder = "(custom)"
	ui.windowSel.SetSelected(viewer.AbdomenWindow.String())

	ui.layoutSel = widget.NewSelect(layoutNames, ui.layoutSelected)
	ui.layoutSel.SetSelected(layoutNames[0])

	ui.layerBox = container.NewVBox()
	ui.rebuildLayerControls()
	ui.newLesionPanel()
	ui.newEditTools()

	notice := canvas.NewText(researchNotice, color.NRGBA{R: 220, G: 40, B: 40, A: 255})
	notice.TextStyle = fyne.TextStyle{Bold: true}
	notice.Alignment = fyne.TextAlignCenter

	// The edit tools come before the layers, so that an annotator finds them without
	// scrolling at the default window size.
	side := container.NewVBox(
		widget.NewLabelWithStyle("View", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewBorder(nil, nil, widget.NewLabel("Window"), ui.windowLabel, ui.windowSel),
		container.NewBorder(nil, nil, widget.NewLabel("Layout"), nil, ui.layoutSel),
		widget.NewSeparator(),
		ui.editPanel(),
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Layers", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		ui.layerBox,
		widget.NewSeparator(),
	)
	// The stage label takes the rest of the row and cuts a long message short, so
	// that a long folder name never widens the window past the screen.
	ui.stageLabel.Truncation = fyne.TextTruncateEllipsis
	toolbar := container.NewBorder(nil, nil, container.NewHBox(
		widget.NewButtonWithIcon("Open file…", theme.FileIcon(), ui.askToOpen(ui.openFileDialog)),
		widget.NewButtonWithIcon("Open DICOM folder…", theme.FolderOpenIcon(), ui.askToOpen(ui.openFolderDialog)),
		widget.NewSeparator(),
		ui.runButton, ui.rerunButton, ui.cancelButton,
	), nil, ui.stageLabel)
	top := container.NewVBox(toolbar, ui.progress)
	bottom := container.NewVBox(
		container.NewBorder(nil, nil, ui.sliceLabel, nil, ui.sliceSlider),
		container.NewBorder(nil, nil, nil, notice, ui.status),
	)
	content := container.NewBorder(top, bottom, nil, ui.sidePanel(side), ui.views)

	ui.win.SetContent(content)
	ui.win.SetMainMenu(ui.mainMenu())
	ui.win.Resize(fyne.NewSize(1200, 860))
	ui.win.Canvas().SetOnTypedKey(ui.typedKey)
	ui.registerEditShortcuts()
	ui.win.Canvas().AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierControl},
		func(fyne.Shortcut) { ui.startRerun() })
	ui.win.Canvas().AddShortcut(saveSessionShortcut, func(fyne.Shortcut) { ui.saveSession() })
	ui.win.Canvas().AddShortcut(exportMasksShortcut, func(fyne.Shortcut) { ui.exportMasksDialog() })
	if dc, ok := ui.win.Canvas().(desktop.Canvas); ok {
		// Scroll events carry no modifiers, so the views learn about Ctrl from here.
		dc.SetOnKeyDown(func(ev *fyne.KeyEvent) { ui.controlKey(ev, true) })
		dc.SetOnKeyUp(func(ev *fyne.KeyEvent) { ui.controlKey(ev, false) })
	}
	return ui
}

func (ui *viewerUI) mainMenu() *fyne.MainMenu {
	file := fyne.NewMenu("File",
		fyne.NewMenuItem("Open NIfTI file…", ui.askToOpen(ui.openFileDialog)),
		fyne.NewMenuItem("Open DICOM folder…", ui.askToOpen(ui.openFolderDialog)),
		fyne.NewMenuItem("Open demo case", ui.askToOpen(func() { go ui.openInBackground(ui.openDemo) })),
	)
	file.Items = append(file.Items, ui.sessionMenuItems()...)
	// Fyne adds a Quit item that quits at once, so this one replaces it to confirm
	// before unsaved edits are discarded.
	quit := fyne.NewMenuItem("Quit", ui.confirmQuit)
	quit.IsQuit = true
	file.Items = append(file.Items, fyne.NewMenuItemSeparator(), quit)
	help := fyne.NewMenu("Help",
		fyne.NewMenuItem("Keyboard shortcuts", ui.showShortcuts),
		fyne.NewMenuItem("About Protrude", ui.showAbout))
	ui.rerunItem = fyne.NewMenuItem("Re-run later stages (Ctrl+R)", ui.startRerun)
	ui.rerunItem.Disabled = true
	ui.runMenu = fyne.NewMenu("Run", fyne.NewMenuItem("Run all networks", ui.askToRun()), ui.rerunItem)
	return fyne.NewMainMenu(file, ui.tools.editMenu, ui.runMenu, help)
}

// rebuildLayerControls makes one row per layer: visibility, colour and opacity.
// keysToViews takes the keyboard focus away from the side panel's controls after the
// user changed one, so that the view keys (slices, layers, tools) work again at once.
// Without it, a focused select or check box takes the keys.
func (ui *viewerUI) keysToViews() {
	ui.win.Canvas().Unfocus()
}

func (ui *viewerUI) rebuildLayerControls() {
	ui.layerBox.RemoveAll()
	for i, l := range ui.layers {
		swatch := canvas.NewRectangle(l.Color)
		swatch.SetMinSize(fyne.NewSize(14, 14))
		check := widget.NewCheck(fmt.Sprintf("%d  %s", i+1, l.Name), func(on bool) {
			l.Visible = on
			ui.views.Refresh()
			ui.keysToViews()
		})
		check.SetChecked(l.Visible)
		outline := widget.NewCheck("Outline", func(on bool) {
			l.Style = overlays.Fill
			if on {
				l.Style = overlays.Outline
			}
			ui.views.Refresh()
			ui.keysToViews()
		})
		outline.SetChecked(l.Style == overlays.Outline)
		opacity := widget.NewSlider(0, 1)
		opacity.Step = 0.05
		opacity.SetValue(l.Opacity)
		opacity.OnChanged = func(v float64) {
			l.Opacity = v
			ui.views.Refresh()
			ui.keysToViews()
		}
		row := container.NewBorder(nil, nil, container.NewCenter(swatch), outline, check)
		ui.layerBox.Add(container.NewVBox(row, container.NewBorder(nil, nil, widget.NewLabel("Opacity"), nil, opacity)))
	}
	ui.layerBox.Refresh()
}

// typedKey handles the view keys. The slice keys and M act on the view the pointer was
// last over.
//
//	Up, Down          next or previous slice
//	Page Up, Page Down 10 slices on or back
//	Home, End         first or last slice
//	1, 2, 3, 4        show or hide the kidney, protruded region, tumor and base-network
//	                  tumor layers
//	O                 draw every layer as an outline, or all filled again
//	M                 maximize the view, or show the three views again
//	Escape            show the three views
//	R                 reset the zoom and pan of every view
//
// The tool keys are listed at toolKey.
func (ui *viewerUI) typedKey(ev *fyne.KeyEvent) {
	if ui.toolKey(ev) {
		return
	}
	v := ui.views.View(ui.activeView)
	switch ev.Name {
	case fyne.KeyUp:
		ui.views.SetSlice(ui.activeView, v.Slice()+1)
	case fyne.KeyDown:
		ui.views.SetSlice(ui.activeView, v.Slice()-1)
	case fyne.KeyPageUp:
		ui.views.SetSlice(ui.activeView, v.Slice()+10)
	case fyne.KeyPageDown:
		ui.views.SetSlice(ui.activeView, v.Slice()-10)
	case fyne.KeyHome:
		ui.views.SetSlice(ui.activeView, 0)
	case fyne.KeyEnd:
		ui.views.SetSlice(ui.activeView, v.Slices()-1)
	case fyne.Key1, fyne.Key2, fyne.Key3, fyne.Key4:
		if i := int(ev.Name[0] - '1'); i < len(ui.layers) {
			ui.layers[i].Visible = !ui.layers[i].Visible
			ui.rebuildLayerControls()
			ui.views.Refresh()
		}
	case fyne.KeyO:
		ui.toggleOutline()
	case fyne.KeyM:
		ui.views.ToggleMaximize(ui.activeView)
	case fyne.KeyEscape:
		ui.views.Restore()
	case fyne.KeyR:
		for _, o := range viewer.Orientations {
			ui.views.View(o).ResetZoom()
		}
	default:
		return
	}
	ui.updateStatus()
}

// toggleOutline draws every layer as an outline, or fills them all when every layer is
// already an outline.
func (ui *viewerUI) toggleOutline() {
	style := overlays.Fill
	for _, l := range ui.layers {
		if l.Style != overlays.Outline {
			style = overlays.Outline
		}
	}
	for _, l := range ui.layers {
		l.Style = style
	}
	ui.rebuildLayerControls()
	ui.views.Refresh()
}

// controlKey passes Ctrl presses and releases to the views.
func (ui *viewerUI) controlKey(ev *fyne.KeyEvent, down bool) {
	if ev.Name == desktop.KeyControlLeft || ev.Name == desktop.KeyControlRight {
		ui.views.SetCtrlHeld(down)
	}
}

// layoutNames are the choices of the layout selector: the three views, then each view
// maximized, in the order of viewer.Orientations.
var layoutNames = []string{"Three views", "Axial", "Coronal", "Sagittal"}

func (ui *viewerUI) layoutSelected(name string) {
	defer ui.keysToViews()
	for i, o := range viewer.Orientations {
		if name == layoutNames[i+1] {
			ui.views.Maximize(o)
			return
		}
	}
	ui.views.Restore()
}

// maximizeChanged keeps the layout selector in step with double clicks and keys.
func (ui *viewerUI) maximizeChanged() {
	name := layoutNames[0]
	if o, ok := ui.views.Maximized(); ok {
		name = layoutNames[int(o)+1]
	}
	if ui.layoutSel.Selected != name {
		ui.layoutSel.SetSelected(name)
	}
}

// windowChanged shows a window set by a right drag, which matches no preset.
func (ui *viewerUI) windowChanged(wl viewer.WindowLevel) {
	ui.windowSel.ClearSelected()
	ui.windowLabel.SetText(windowText(wl))
}

func windowText(wl viewer.WindowLevel) string {
	return fmt.Sprintf("W %.0f / L %.0f HU", wl.WidthHU, wl.LevelHU)
}

func (ui *viewerUI) sliceChanged(s int) {
	a := ui.views.View(viewer.Axial)
	ui.sliceLabel.SetText(fmt.Sprintf("Axial slice %d / %d", s+1, a.Slices()))
	if int(ui.sliceSlider.Value) != s {
		ui.sliceSlider.SetValue(float64(s))
	}
	ui.updateStatus()
}

func (ui *viewerUI) hoverChanged(h viewer.HoverInfo) {
	ui.hover = h
	ui.activeView = h.View
	ui.updateStatus()
}

// updateStatus shows the voxel under the pointer, or the cursor voxel when the pointer
// is over no view: its index, LPS position and HU.
func (ui *viewerUI) updateStatus() {
	if ui.study == nil {
		return
	}
	ct := ui.study.CT
	source, idx := "Cursor", ui.views.Cursor()
	if ui.hover.Inside {
		// The hovered voxel may sit on a slice that has changed since the pointer moved.
		if h := ui.views.View(ui.hover.View).HoverAt(ui.hover.Position); h.Inside {
			source, idx = "Pointer ("+h.View.String()+")", h.Index
		}
	}
	p := ct.IndexToLPS(volume.Vec3{float64(idx[0]), float64(idx[1]), float64(idx[2])})
	ui.status.SetText(fmt.Sprintf("%s: voxel (%d, %d, %d)   LPS (%.1f, %.1f, %.1f) mm   %.0f HU",
		source, idx[0], idx[1], idx[2], p[0], p[1], p[2], ct.At(idx[0], idx[1], idx[2])))
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
	st.Path, st.Demo = demoCasePath, true
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
	ui.bundleID = ""
	ui.layers = defaultViewerLayers()
	ui.rebuildLayerControls()
	// The slider range must be set before SetVolume reports the first slice to it.
	ui.sliceSlider.Max = float64(max(viewer.NewAxialFrame(st.CT.Grid).Slices()-1, 1))
	ui.hover = viewer.HoverInfo{}
	ui.views.SetVolume(st.CT, ui.layers)
	ui.resetEdits()
	ui.savedChanges, ui.unsavedRecovery = ui.changeCount(), false
	ui.sessionDir = ""
	ui.lastExportDir, ui.lastExportFormat = "", ""
	ui.refreshLesions()
	ui.windowSel.SetSelected(viewer.AbdomenWindow.String())
	if ui.startSlice > 0 {
		ui.views.SetSlice(viewer.Axial, ui.startSlice-1)
	}
	ui.updateStatus()
	ui.win.SetTitle(fmt.Sprintf("Protrude — %s — %s", filepath.Base(st.Path), researchNotice))
	status := fmt.Sprintf("%d×%d×%d, %.2g×%.2g×%.2g mm", st.CT.Size[0], st.CT.Size[1], st.CT.Size[2],
		st.CT.SpacingMM[0], st.CT.SpacingMM[1], st.CT.SpacingMM[2])
	if len(st.Warnings) > 0 {
		status += fmt.Sprintf(" — %d input warnings", len(st.Warnings))
	}
	ui.stageLabel.SetText(status)
	ui.progress.SetValue(0)
	ui.last = nil
	ui.updateRunControls()
	if len(st.Warnings) > 0 {
		dialog.ShowInformation("Check the input", strings.Join(st.Warnings, "\n"), ui.win)
	}
}

// startRun runs the three networks in the background. It is called on the UI goroutine.
func (ui *viewerUI) startRun() {
	if ui.study == nil || ui.cancelRun != nil {
		return
	}
	st := ui.study
	var contrast []string
	ui.runInBackground("Run", func(ctx context.Context) (*inference.Result, error) {
		res, err := ui.runPipeline(ctx, st)
		// The contrast checks read the whole volume, so they run here, off the UI
		// goroutine.
		if err == nil {
			contrast = contrastWarnings(st.CT, res.Kidney)
		}
		return res, err
	}, func(res *inference.Result) { ui.showResult(res, contrast) })
}

// runInBackground calls work off the UI goroutine with a cancellable context, with the
// progress bar and Cancel, and passes its result to finish on the UI goroutine. title
// names the action in the error dialog. It is called on the UI goroutine.
func (ui *viewerUI) runInBackground(title string, work func(ctx context.Context) (*inference.Result, error), finish func(*inference.Result)) {
	ctx, cancel := context.WithCancel(context.Background())
	ui.cancelRun = cancel
	ui.updateRunControls()
	ui.progress.SetValue(0)
	ui.stageLabel.SetText("Loading models…")
	st := ui.study

	go func() {
		res, err := work(ctx)
		fyne.Do(func() {
			ui.cancelRun = nil
			cancel()
			defer ui.updateRunControls()
			if ui.study != st {
				return // another scan was opened meanwhile
			}
			switch {
			case errors.Is(err, context.Canceled):
				ui.stageLabel.SetText("Cancelled")
				ui.progress.SetValue(0)
			case err != nil:
				ui.stageLabel.SetText("Failed")
				ui.showError(title+" failed", err)
			default:
				finish(res)
			}
		})
	}()
}

// updateRunControls enables Run when a scan is open, Re-run when a run has finished,
// and Cancel while one of them runs.
func (ui *viewerUI) updateRunControls() {
	running := ui.cancelRun != nil
	setEnabled(ui.runButton, ui.study != nil && !running)
	setEnabled(ui.rerunButton, ui.last != nil && !running)
	setEnabled(ui.cancelButton, running)
	if ui.rerunItem != nil {
		ui.rerunItem.Disabled = ui.last == nil || running
		ui.runMenu.Refresh()
	}
}

func setEnabled(b *widget.Button, on bool) {
	if on {
		b.Enable()
	} else {
		b.Disable()
	}
}

// reportProgress shows a pipeline progress report. It may be called from any goroutine.
func (ui *viewerUI) reportProgress(p inference.Progress) {
	fyne.Do(func() {
		ui.progress.SetValue(p.Fraction)
		// A message for the user, such as that edits wait for the run, stays a few
		// seconds before the patch count replaces it.
		if time.Now().Before(ui.holdStageUntil) {
			return
		}
		ui.stageLabel.SetText(fmt.Sprintf("%s: patch %d / %d", p.Stage, p.Done, p.Total))
	})
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
	res, err := ui.pipeline.Run(ctx, st.CT, ui.reportProgress)
	if err == nil {
		d := res.Durations
		slog.Info("run finished", "duration", time.Since(start).Round(time.Millisecond),
			"resample", d.Resample.Round(time.Millisecond), "base", d.Base.Round(time.Millisecond),
			"protuberance", d.Protuberance.Round(time.Millisecond), "fusion", d.Fusion.Round(time.Millisecond),
			"resample_back", d.ResampleBack.Round(time.Millisecond), "patches", fmt.Sprintf("%+v", res.Patches))
	}
	return res, err
}

// showResult shows the masks of res, and in a dialog the pipeline's warnings and
// contrastWarnings, the warnings of the contrast checks.
func (ui *viewerUI) showResult(res *inference.Result, contrastWarnings []string) {
	ui.progress.SetValue(1)
	ui.layers[0].Mask = res.Kidney
	ui.layers[1].Mask = res.Protrusion
	ui.layers[2].Mask = res.Tumor
	ui.layers[3].Mask = res.BaseTumor
	ui.views.SetLayers(ui.layers)
	ui.resetEdits()
	ui.refreshLesions()
	ui.last = newLastRun(res, res.Kidney, res.Protrusion, res.Tumor)
	ui.updateRunControls()
	if ui.pipeline != nil {
		ui.bundleID = ui.pipeline.Bundle().Manifest.BundleID
	}
	ui.markSessionChanged()
	ui.changesAfterRun = ui.changeCount()
	ui.stageLabel.SetText(fmt.Sprintf("Done on %s: kidney %.0f mL, protrusion %.1f mL, tumor %.1f mL",
		res.Device.Used, maskVolumeML(res.Kidney), maskVolumeML(res.Protrusion), maskVolumeML(res.Tumor)))
	// The cursor goes to the tumor, or else the kidneys, so that all three views show it.
	if idx, ok := labelCentreVoxel(res.Tumor); ok {
		ui.views.SetCursor(idx)
	} else if idx, ok := labelCentreVoxel(res.Kidney); ok {
		ui.views.SetCursor(idx)
	}
	if ui.startSlice > 0 {
		ui.views.SetSlice(viewer.Axial, ui.startSlice-1)
	}
	ui.updateStatus()
	warnings := append(resultWarnings(res), contrastWarnings...)
	if len(warnings) > 0 {
		for n := range warnings {
			warnings[n] = capitalize(warnings[n])
		}
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
	// Most errors start with the action already, such as "open masks FILE: …".
	if strings.HasPrefix(strings.ToLower(err.Error()), strings.ToLower(title)) {
		dialog.ShowError(errors.New(capitalize(err.Error())), ui.win)
		return
	}
	dialog.ShowError(fmt.Errorf("%s: %w", title, err), ui.win)
}

// capitalize returns s with its first letter in upper case, for a message that starts
// a dialog.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
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

// hasUnsavedChanges reports whether the masks or the review differ from the last
// opened or saved session.
func (ui *viewerUI) hasUnsavedChanges() bool {
	return ui.study != nil && (ui.unsavedRecovery || ui.changeCount() != ui.savedChanges)
}

// confirmQuit closes the window, and so quits, after asking when there are unsaved
// changes: a clean exit removes their autosaved copy.
func (ui *viewerUI) confirmQuit() {
	if !ui.hasUnsavedChanges() {
		ui.win.Close()
		return
	}
	ui.confirmDestructive("Quit without saving?",
		"The masks or the review status have changes that no saved session or export contains.\n"+
			"Quitting discards these changes, including their autosaved copy.\n"+
			"To keep them, choose Cancel, then File > Save session or Export masks.",
		"Quit without saving", ui.win.Close)
}

// askToOpen wraps an action that opens another scan or session, which replaces the
// open one, in the question about unsaved changes.
func (ui *viewerUI) askToOpen(action func()) func() {
	return ui.askBeforeDiscarding("Opening another scan or session", ui.hasUnsavedChanges, action)
}

// askToRun wraps Run in the question about unsaved work: a run replaces every layer.
func (ui *viewerUI) askToRun() func() {
	return ui.askBeforeDiscarding("Running the networks again", ui.unsavedWork, ui.startRun)
}

// unsavedWork reports whether there are changes after the last Save session other
// than the output of the last run, which a new run makes again: hand edits, review
// status, re-runs, opened masks or a recovered session.
func (ui *viewerUI) unsavedWork() bool {
	c := ui.changeCount()
	return ui.study != nil && (ui.unsavedRecovery || (c != ui.savedChanges && c != ui.changesAfterRun))
}

// askBeforeDiscarding returns action wrapped in a question: when lost reports that
// action would discard changes, the user confirms first. what names the action, such
// as "Opening another scan".
func (ui *viewerUI) askBeforeDiscarding(what string, lost func() bool, action func()) func() {
	return func() {
		if !lost() {
			action()
			return
		}
		ui.confirmDestructive("Discard unsaved changes?",
			"The masks or the review status have changes that no saved session or export contains.\n"+
				what+" discards these changes.\n"+
				"To keep them, choose Cancel, then File > Save session or Export masks.",
			"Discard changes", action)
	}
}

// confirmDestructive shows a confirmation before action. Cancel is the highlighted
// button, and the destructive choice, labelled confirm, is red.
func (ui *viewerUI) confirmDestructive(title, text, confirm string, action func()) {
	var d dialog.Dialog
	cancel := widget.NewButton("Cancel", func() { d.Hide() })
	cancel.Importance = widget.HighImportance
	discard := widget.NewButton(confirm, func() {
		d.Hide()
		action()
	})
	discard.Importance = widget.DangerImportance
	d = dialog.NewCustomWithoutButtons(title, widget.NewLabel(text), ui.win)
	d.(*dialog.CustomDialog).SetButtons([]fyne.CanvasObject{discard, cancel})
	d.Show()
}

func (ui *viewerUI) shutdown() {
	if ui.cancelRun != nil {
		ui.cancelRun()
	}
	ui.closeAutosave()
	if ui.pipeline != nil {
		ui.pipeline.Close()
	}
}
