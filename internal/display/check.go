package display

import (
	"bytes"
	"image/png"
)

// Blank says whether an image item is one flat colour (or does not
// decode): what a figure that drew nothing looks like. For tests and
// tools; the supervisor does not decode whole images.
func Blank(it Item) bool {
	raw, err := it.Bytes()
	if err != nil || it.MIME != PNG {
		return true
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return true
	}
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	r0, g0, b0, a0 := first.RGBA()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if r != r0 || g != g0 || bl != b0 || a != a0 {
				return false
			}
		}
	}
	return true
}
