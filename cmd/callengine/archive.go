package main

import (
	"context"
	"fmt"
	"io"
)

// archiveCmd runs `callengine archive` (retention).
func archiveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "callengine archive: not built yet")
	return 2
}
