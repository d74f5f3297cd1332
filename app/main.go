package main

import (
	_ "fyne.io/fyne/v2/app"
	_ "github.com/disintegration/imaging"
	_ "github.com/suyashkumar/dicom"
	_ "github.com/yalue/onnxruntime_go"
)

func main() {}
