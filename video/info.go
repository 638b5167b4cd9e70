// Package video turns a video file into an upscaled one: it probes, decodes
// and encodes through FFmpeg's libraries (libavformat, libavcodec,
// libswscale, libswresample) in memory, and runs the jobs that the API
// accepts asynchronously.
//
// Frames never touch the disk and the ffmpeg command is never run. The
// output is always MKV with H.264 video and, when the input has audio, AAC
// audio (copied when it already is AAC). The package does not upscale
// anything itself: it hands batches of frames to a function, in the service
// the enhance pipeline, which owns the inference semaphore.
//
// Without cgo, or with the build tag nolibav (a binary that needs no FFmpeg
// libraries), the package builds, and every call fails with ErrNoFFmpeg.
package video

import (
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"
	"time"
)

// ErrNoFFmpeg is what every decoding and encoding call returns in a build
// without cgo or with the nolibav tag.
var ErrNoFFmpeg = errors.New("video: not built with FFmpeg (cgo disabled or build tag nolibav)")

// Rational is a ratio of integers, as libav* keep time bases and rates.
type Rational struct{ Num, Den int }

// Float is r as a number, 0 when undefined.
func (r Rational) Float() float64 {
	if r.Den == 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

// Info is what Probe learns about a file.
type Info struct {
	Format     string // demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	VideoCodec string // e.g. "h264"
	// Width and Height are the displayed size, Rotation applied.
	Width, Height int
	// Rotation is the clockwise turn, in degrees (0, 90, 180, 270), that the
	// container asks players to apply; Decoder applies it.
	Rotation  int
	FrameRate Rational // average
	FPS       float64  // FrameRate as a number
	// FrameCount is the number of video packets, counted one by one, so it
	// is right for variable frame rate where Duration×FPS is not.
	FrameCount int
	// Duration is the time the video packets span.
	Duration      time.Duration
	HasAudio      bool
	AudioCodec    string
	AudioRate     int
	AudioChannels int
	// AudioDuration is the time the audio packets span.
	AudioDuration time.Duration
}

// Frame is a decoded picture and its presentation time in the decoder's
// time base, counted from the start of the file.
type Frame struct {
	Image *image.RGBA
	PTS   int64
}

// EncoderConfig describes the output of an Encoder.
type EncoderConfig struct {
	// Codec is "libx264" (the default) or "h264_nvenc".
	Codec string
	// Width and Height are the size of the frames to be written; an odd
	// last row or column is cropped, as 4:2:0 needs even sizes.
	Width, Height int
	// TimeBase is the unit of Frame.PTS; FrameRate the nominal rate.
	TimeBase, FrameRate Rational
	// AudioFrom is a file whose audio goes into the output ("" for none).
	AudioFrom string
	// Preset is libx264's speed/size trade-off, one of X264Presets; ""
	// means DefaultX264Preset. h264_nvenc ignores it.
	Preset string
}

// DefaultX264Preset is the libx264 preset used when none is given. It
// encodes upscaled frames about twice as fast as "fast" (42 against 21 fps
// for 640×480 on two cores) at crf 18, so that the encoder rarely sets the
// pace; on many cores with 4K frames a faster one may still be needed.
const DefaultX264Preset = "veryfast"

// X264Presets are the presets libx264 accepts, fastest (largest file) first.
func X264Presets() []string {
	return []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}
}

// CheckX264Preset returns an error naming preset unless it is one of
// X264Presets or "" (the default).
func CheckX264Preset(preset string) error {
	if preset == "" || slices.Contains(X264Presets(), preset) {
		return nil
	}
	return fmt.Errorf("video: unknown libx264 preset %q (%s)", preset, strings.Join(X264Presets(), ", "))
}
