package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"

	_ "golang.org/x/image/webp"

	"imageenhancer/enhance"
)

// runForward is the `forward` command: run a bare network on an image and
// write its raw output, the way every runtime is compared with the PyTorch
// reference (../shared/bench/torch_ref.py run writes the same format).
func runForward(args []string) error {
	fs := flag.NewFlagSet("forward", flag.ContinueOnError)
	weights := fs.String("weights", "", "weights: a .pth, or a .param with its .bin beside it")
	input := fs.String("input", "", "input image (PNG, JPEG or WEBP), taken as 8-bit RGB / 255")
	output := fs.String("output", "", "output: little-endian float32, NCHW, before clamping")
	device := fs.String("device", "cpu", "runtime: cpu or gpu")
	bf16 := fs.Bool("bf16", false, "CPU runtime: bf16 convolutions (faster with AMX, not exact)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *weights == "" || *input == "" || *output == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: forward -weights PATH -input in.png -output out.f32 [-device cpu|gpu]")
	}
	img, err := readImage(*input)
	if err != nil {
		return err
	}
	rt, err := runtimeFor(*device, runtimeConfig{EnginesDir: defaultEnginesDir(), CPUBF16: *bf16})
	if err != nil {
		return err
	}
	out, shape, err := enhance.Forward(rt, *weights, img)
	if err != nil {
		return err
	}
	b := make([]byte, 4*len(out))
	for i, v := range out {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(*output, b, 0o644); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"shape": shape})
}

func readImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return img, nil
}
