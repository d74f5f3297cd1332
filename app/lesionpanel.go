package main

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"protrude/lesions"
	"protrude/viewer"
	"protrude/volume"
)

// tumorLayer is the index in viewerUI.layers of the tumor layer, whose components the
// lesion list shows.
const tumorLayer = 2

// lesionColumns are the headers of the lesion list, and lesionColumnSamples the widest
// text each column is sized for.
var (
	lesionColumns       = []string{"ID", "mL", "Max diam. mm", "Mean HU", "Axial slices", "Status"}
	lesionColumnSamples = []string{"999", "9999.99", "999.9", "-1000", "999–999", string(lesions.Unreviewed)}
)

// lesionPanel is the lesion list: one row per connected component of the tumor layer,
// with Accept and Reject for the selected row.
type lesionPanel struct {
	table *lesions.Table
	// mask is the tumor mask that table was measured on. A new mask object, such as
	// after a run, starts a fresh review.
	mask     *volume.Mask
	selected int

	list   *widget.Table
	accept *widget.Button
	reject *widget.Button
	box    fyne.CanvasObject
}

func (ui *viewerUI) newLesionPanel() {
	p := &lesionPanel{selected: -1}
	ui.lesionList = p
	p.list = widget.NewTableWithHeaders(
		func() (int, int) { return ui.lesionRowCount(), len(lesionColumns) },
		func() fyne.CanvasObject { return widget.NewLabel("Max diameter mm") },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(ui.lesionCell(id.Row, id.Col))
		},
	)
	p.list.ShowHeaderColumn = false
	p.list.CreateHeader = func() fyne.CanvasObject { return widget.NewLabel("Max diameter mm") }
	p.list.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Row < 0 && id.Col >= 0 {
			o.(*widget.Label).SetText(lesionColumns[id.Col])
		}
	}
	for col, header := range lesionColumns {
		// Each column is as wide as its header or its widest value, whichever is wider.
		width := max(widget.NewLabel(header).MinSize().Width, widget.NewLabel(lesionColumnSamples[col]).MinSize().Width)
		if col == len(lesionColumns)-1 {
			// The last column also leaves room for the vertical scroll bar.
			width += theme.ScrollBarSize()
		}
		p.list.SetColumnWidth(col, width)
	}
	p.list.OnSelected = func(id widget.TableCellID) { ui.selectLesion(id.Row) }
	p.accept = widget.NewButton("Accept", func() { ui.setLesionStatus(lesions.Accepted) })
	p.reject = widget.NewButton("Reject", func() { ui.setLesionStatus(lesions.Rejected) })
	p.accept.Disable()
	p.reject.Disable()
	p.box = container.NewBorder(
		widget.NewLabelWithStyle("Lesions (tumor layer)", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewHBox(p.accept, p.reject), nil, nil, p.list)
}

// sidePanelMinWidth is the least width of the side panel, so that the lesion list shows
// most of its columns without scrolling.
const sidePanelMinWidth = 530

// sidePanel stacks the scrolling controls above the lesion list, with a divider the user
// can drag. The scroll keeps the window's minimum height small.
func (ui *viewerUI) sidePanel(controls fyne.CanvasObject) fyne.CanvasObject {
	scroll := container.NewVScroll(container.NewPadded(controls))
	scroll.SetMinSize(fyne.NewSize(max(controls.MinSize().Width+theme.Padding()*2, sidePanelMinWidth), 0))
	split := container.NewVSplit(scroll, container.NewPadded(ui.lesionList.box))
	// About half the height goes to the lesion list, which shows six rows at the
	// default window size.
	split.Offset = 0.5
	return split
}

func (ui *viewerUI) lesionRowCount() int {
	if ui.lesionList.table == nil {
		return 0
	}
	return len(ui.lesionList.table.Lesions)
}

// lesionCell returns the text of one cell. The axial slices are 1-based, as the slice
// label below the views shows them.
func (ui *viewerUI) lesionCell(row, col int) string {
	t := ui.lesionList.table
	if t == nil || row < 0 || row >= len(t.Lesions) {
		return ""
	}
	l := t.Lesions[row]
	switch col {
	case 0:
		return fmt.Sprint(l.ID)
	case 1:
		return fmt.Sprintf("%.2f", l.VolumeML)
	case 2:
		return fmt.Sprintf("%.1f", l.MaxDiameterMM)
	case 3:
		return fmt.Sprintf("%.0f", l.MeanHU)
	case 4:
		first, last := ui.axialSliceRange(l)
		return fmt.Sprintf("%d–%d", first+1, last+1)
	case 5:
		return string(l.Status)
	}
	return ""
}

// axialSliceRange returns the first and last axial slice number, 0-based in the axial
// view's order, that lesion l touches.
func (ui *viewerUI) axialSliceRange(l lesions.Lesion) (first, last int) {
	f := ui.views.View(viewer.Axial).Frame()
	lo, hi := l.BoundingBox.Min, l.BoundingBox.Max
	a := f.SliceOfIndex(lo)
	b := f.SliceOfIndex([3]int{hi[0] - 1, hi[1] - 1, hi[2] - 1})
	return min(a, b), max(a, b)
}

// refreshLesions measures the tumor layer again and redraws the list. Lesion IDs and
// statuses carry over from the previous table when the mask object is the same, so a
// brush stroke marks the touched lesion Edited.
//
// NOTE: it labels the whole mask on the UI goroutine after every edit. docs/benchmarks.md
// measures Measure at 0.28 s of CPU on an 834×512×512 grid, so on such scans each edit
// pauses the window for about that long.
func (ui *viewerUI) refreshLesions() {
	p := ui.lesionList
	var mask *volume.Mask
	if ui.study != nil && tumorLayer < len(ui.layers) {
		mask = ui.layers[tumorLayer].Mask
	}
	var next *lesions.Table
	var err error
	switch {
	case mask == nil:
	case p.table != nil && p.mask == mask:
		next, err = p.table.Update(mask, ui.study.CT)
	default:
		next, err = lesions.Measure(mask, ui.study.CT)
	}
	if err != nil {
		ui.showError("Lesion list", err)
		next = nil
	}
	shrank := next == nil || p.table == nil || len(next.Lesions) < len(p.table.Lesions)
	p.table, p.mask = next, mask
	if shrank {
		// A shorter list keeps the scroll offset otherwise, which can hide its rows
		// under the header.
		p.list.ScrollToTop()
	}
	if p.selected >= ui.lesionRowCount() {
		p.selected = -1
		p.list.UnselectAll()
	}
	ui.updateLesionButtons()
	p.list.Refresh()
}

// selectLesion moves the cursor to the voxel of the lesion in row nearest the centre of
// its bounding box, so that all three views show it.
func (ui *viewerUI) selectLesion(row int) {
	p := ui.lesionList
	if row < 0 || row >= ui.lesionRowCount() {
		return
	}
	p.selected = row
	ui.updateLesionButtons()
	box := p.table.Lesions[row].BoundingBox
	best, bestD := [3]int{}, -1
	for k := box.Min[2]; k < box.Max[2]; k++ {
		for j := box.Min[1]; j < box.Max[1]; j++ {
			for i := box.Min[0]; i < box.Max[0]; i++ {
				if p.table.LesionAt(i, j, k) != row {
					continue
				}
				di, dj, dk := 2*i-box.Min[0]-box.Max[0]+1, 2*j-box.Min[1]-box.Max[1]+1, 2*k-box.Min[2]-box.Max[2]+1
				if d := di*di + dj*dj + dk*dk; bestD < 0 || d < bestD {
					best, bestD = [3]int{i, j, k}, d
				}
			}
		}
	}
	if bestD >= 0 {
		ui.views.SetCursor(best)
		ui.updateStatus()
	}
}

func (ui *viewerUI) setLesionStatus(s lesions.Status) {
	p := ui.lesionList
	if p.table == nil || p.selected < 0 || p.selected >= len(p.table.Lesions) {
		return
	}
	if err := p.table.SetStatus(p.table.Lesions[p.selected].ID, s); err != nil {
		ui.showError("Lesion status", err)
	}
	p.list.Refresh()
	ui.markSessionChanged()
}

func (ui *viewerUI) updateLesionButtons() {
	p := ui.lesionList
	if p.selected >= 0 && p.selected < ui.lesionRowCount() {
		p.accept.Enable()
		p.reject.Enable()
		return
	}
	p.accept.Disable()
	p.reject.Disable()
}
