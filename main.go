// Command image-enhancer serves the Image Enhancer REST API and carries the
// tools around it. With no arguments it serves; the subcommands are
//
//	models fetch   install the obtainable model weights into ENGINES_DIR
//	forward        run a bare network and write its raw float32 output
//	enhance        upscale one image from the command line
//
// main only wires: it reads flags and the environment into config structs,
// builds the parts and starts them.
package main

import (
	"fmt"
	"os"
)

func main() {
	args := os.Args[1:]
	var err error
	switch {
	case len(args) == 0:
		err = serve()
	case args[0] == "models":
		err = runModels(args[1:])
	case args[0] == "forward":
		err = runForward(args[1:])
	case args[0] == "enhance":
		err = runEnhance(args[1:])
	default:
		err = fmt.Errorf("unknown command %q (commands: models fetch, forward, enhance; none to serve)", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image-enhancer:", err)
		os.Exit(1)
	}
}
