package video

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"
)

// EnhanceFunc upscales a batch of frames, all the same size, and returns new
// frames of the scaled size in the same order. In the service it is
// enhance.Enhancer.EnhanceFrames with the job's model, scale and face_enhance.
type EnhanceFunc func(ctx context.Context, frames []*image.RGBA) ([]*image.RGBA, error)

// Options tune Process.
type Options struct {
	// Scale is the factor EnhanceFunc applies (1–4); each result is checked.
	Scale int
	// Encoder is "libx264" (default) or "h264_nvenc".
	Encoder string
	// Preset is the libx264 preset, one of X264Presets; "" means
	// DefaultX264Preset. Faster presets make larger files.
	Preset string
	// Batch is how many frames go to EnhanceFunc at once; 0 means
	// DefaultBatch.
	Batch int
	// Progress, when set, is called from the encoding goroutine after each
	// frame is written, with the number written so far.
	Progress func(done int)
}

// DefaultBatch is the number of frames per EnhanceFunc call: the enhancer
// runs at most four frames through the network together.
const DefaultBatch = 4

// queueDepth is the number of batches each channel holds between stages.
// One is enough for each stage to start its next batch while its neighbour
// works, and keeps memory bounded: with 4K output frames (33 MB each) the
// batches in flight hold about 400 MB.
const queueDepth = 1

// Stats is what Process measured. Stages run at the same time, so their
// busy times can add up to more than Total.
type Stats struct {
	Frames        int
	Width, Height int    // output
	Encoder       string // the H.264 encoder used
	Decode        time.Duration
	Enhance       time.Duration
	Encode        time.Duration // includes audio and muxing
	Total         time.Duration
}

// FPS is frames per second end to end.
func (s Stats) FPS() float64 {
	if s.Total <= 0 {
		return 0
	}
	return float64(s.Frames) / s.Total.Seconds()
}

type batch struct {
	frames []*image.RGBA
	pts    []int64
}

// Process decodes in, upscales its frames through enhance in batches and
// writes out (MKV, H.264, the input's audio as AAC). Decoding, enhancing and
// encoding are three goroutines joined by bounded channels; cancelling ctx
// or any stage's error stops all three. On error out is left incomplete.
func Process(ctx context.Context, in, out string, enhance EnhanceFunc, opt Options) (Stats, error) {
	start := time.Now()
	if opt.Scale < 1 || opt.Scale > 4 {
		return Stats{}, fmt.Errorf("video: scale %d is not in 1–4", opt.Scale)
	}
	if err := CheckX264Preset(opt.Preset); err != nil {
		return Stats{}, err
	}
	if opt.Batch <= 0 {
		opt.Batch = DefaultBatch
	}
	dec, err := OpenDecoder(in)
	if err != nil {
		return Stats{}, err
	}
	defer dec.Close()
	w, h := dec.Size()
	st := Stats{Width: w * opt.Scale, Height: h * opt.Scale}
	enc, err := NewEncoder(out, EncoderConfig{
		Codec: opt.Encoder, Preset: opt.Preset, Width: st.Width, Height: st.Height,
		TimeBase: dec.TimeBase(), FrameRate: dec.FrameRate(), AudioFrom: in,
	})
	if err != nil {
		return Stats{}, err
	}
	defer enc.Close()
	st.Encoder = enc.Codec()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	decoded := make(chan batch, queueDepth)
	enhanced := make(chan batch, queueDepth)
	send := func(ch chan<- batch, b batch) bool {
		select {
		case ch <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(decoded)
		for ctx.Err() == nil {
			t := time.Now()
			var b batch
			var err error
			for len(b.frames) < opt.Batch {
				var f Frame
				if f, err = dec.Next(); err != nil {
					break
				}
				b.frames = append(b.frames, f.Image)
				b.pts = append(b.pts, f.PTS)
			}
			st.Decode += time.Since(t)
			if err != nil && err != io.EOF {
				cancel(err)
				return
			}
			if len(b.frames) > 0 && !send(decoded, b) {
				return
			}
			if err == io.EOF {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		defer close(enhanced)
		for b := range decoded {
			t := time.Now()
			up, err := enhance(ctx, b.frames)
			st.Enhance += time.Since(t)
			if err == nil {
				err = checkScaled(b.frames, up, st.Width, st.Height)
			}
			if err != nil {
				cancel(err)
				return
			}
			if !send(enhanced, batch{frames: up, pts: b.pts}) {
				return
			}
		}
	}()

	err = func() error {
		for b := range enhanced {
			t := time.Now()
			for i, f := range b.frames {
				if err := enc.Write(Frame{Image: f, PTS: b.pts[i]}); err != nil {
					return err
				}
				st.Frames++
				if opt.Progress != nil {
					opt.Progress(st.Frames)
				}
			}
			st.Encode += time.Since(t)
		}
		return nil
	}()
	if err != nil {
		cancel(err)
	}
	for range enhanced { // let the other stages see the cancellation and end
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return st, err
	}
	if st.Frames == 0 {
		return st, errors.New("video: no frame could be decoded")
	}
	t := time.Now()
	if err := enc.Finish(); err != nil {
		return st, err
	}
	st.Encode += time.Since(t)
	st.Total = time.Since(start)
	return st, nil
}

func checkScaled(in, out []*image.RGBA, w, h int) error {
	if len(out) != len(in) {
		return fmt.Errorf("video: enhancer returned %d frames for %d", len(out), len(in))
	}
	for _, f := range out {
		if b := f.Bounds(); b.Dx() != w || b.Dy() != h {
			return fmt.Errorf("video: enhancer returned a %dx%d frame, want %dx%d", b.Dx(), b.Dy(), w, h)
		}
	}
	return nil
}
