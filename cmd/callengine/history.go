package main

import (
	"context"
	"fmt"
	"io"
)

// historyCmd runs `callengine history`.
func historyCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "callengine history: not built yet")
	return 2
}
