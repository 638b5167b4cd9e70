package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"imageenhancer/enhance"
)

// runEnhance is the `enhance` command: one image through the same pipeline
// the API uses.
func runEnhance(args []string) error {
	fs := flag.NewFlagSet("enhance", flag.ContinueOnError)
	model := fs.String("model", "", "catalogue model id (default general_x4)")
	weights := fs.String("weights", "", "weights file instead of -model: .pth, or .param with its .bin")
	scale := fs.Int("scale", 0, "output scale 1–4 (default: the model's)")
	tileSize := fs.Int("tile", cliEnvInt("TILE_SIZE", 0), "tile size in input pixels, 0 for the whole image (TILE_SIZE)")
	tilePad := fs.Int("pad", cliEnvInt("TILE_PAD", 10), "context pixels around each tile (TILE_PAD)")
	width := fs.Int("width", 0, "output width (alone: aspect kept)")
	height := fs.Int("height", 0, "output height (alone: aspect kept)")
	faces := fs.Bool("face", false, "restore faces with GFPGAN (face_enhance; needs GFPGANv1.4.pth in the engines directory)")
	device := fs.String("device", "cpu", "runtime: cpu or gpu")
	bf16 := fs.Bool("bf16", false, "CPU runtime: bf16 convolutions (faster with AMX, not exact)")
	engines := fs.String("engines", defaultEnginesDir(), "engines directory (ENGINES_DIR)")
	// Flags may come before or after the two file names.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 2 || (*model != "" && *weights != "") {
		return fmt.Errorf("usage: enhance -model ID | -weights PATH [-scale N] [-tile N] [-pad N] [-width W] [-height H] [-face] [-device cpu|gpu] [-engines DIR] in out")
	}
	in, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	rt, err := runtimeFor(*device, runtimeConfig{EnginesDir: *engines, CPUBF16: *bf16})
	if err != nil {
		return err
	}
	enh, err := enhance.New(enhance.Config{
		EnginesDir: *engines,
		Runtime:    rt,
		TileSize:   *tileSize,
		TilePad:    *tilePad,
	})
	if err != nil {
		return err
	}
	defer enh.Close()

	var bar *progressbar.ProgressBar
	progress := func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("tiles"), progressbar.OptionShowCount(),
				progressbar.OptionSetElapsedTime(true), progressbar.OptionClearOnFinish())
		}
		if total != bar.GetMax() { // redone with smaller tiles after running out of GPU memory
			bar.ChangeMax(total)
		}
		bar.Set(done)
	}
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		progress = nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := enh.Enhance(ctx, enhance.Request{
		Image: in, Model: *model, Weights: *weights, Scale: *scale,
		OutputWidth: *width, OutputHeight: *height, FaceEnhance: *faces, Progress: progress,
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(files[1], res.PNG, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d×%d → %d×%d (scale %d, %s) in %v\n", files[1],
		res.OriginalWidth, res.OriginalHeight, res.Width, res.Height, res.Scale, enh.RuntimeName(),
		res.Elapsed.Round(time.Millisecond))
	return nil
}

// cliEnvInt is the integer environment variable key, or def when it is
// unset or not a number.
func cliEnvInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}
