package everything

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
)

// Media types of the sample media.
const (
	pngType = "image/png"
	wavType = "audio/wav"
)

// samplePNG returns a 1×1 red PNG image.
func samplePNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.Set(0, 0, color.RGBA{R: 0xff, A: 0xff})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic("everything: encoding a 1x1 PNG: " + err.Error()) // cannot happen with a bytes.Buffer
	}
	return buf.Bytes()
}

// sampleWAV returns a WAV file of 1/100 s of silence: 8 kHz, 16-bit, mono
// PCM.
func sampleWAV() []byte {
	const (
		rate     = 8000
		channels = 1
		bits     = 16
		samples  = rate / 100
	)
	data := make([]byte, samples*channels*bits/8)
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) } // bytes.Buffer never fails
	b.WriteString("RIFF")
	le(uint32(36 + len(data)))
	b.WriteString("WAVE")
	b.WriteString("fmt ")
	le(uint32(16))                         // fmt chunk size
	le(uint16(1))                          // PCM
	le(uint16(channels))                   // channels
	le(uint32(rate))                       // sample rate
	le(uint32(rate * channels * bits / 8)) // byte rate
	le(uint16(channels * bits / 8))        // block align
	le(uint16(bits))                       // bits per sample
	b.WriteString("data")
	le(uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}
