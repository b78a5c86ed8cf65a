package journal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/journal"
)

func Example() {
	dir, _ := os.MkdirTemp("", "journal-example")
	defer os.RemoveAll(dir)

	j, err := journal.Open(filepath.Join(dir, "calls.journal"), journal.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()
	ctx := context.Background()

	// A new stream: expected version 0.
	seq, _ := j.Append(ctx, "call/0001", 0, [][]byte{[]byte("ringing"), []byte("answered")}, false)
	fmt.Println("first seq:", seq)

	// A stale expected version is refused and writes nothing.
	_, err = j.Append(ctx, "call/0001", 1, [][]byte{[]byte("hangup")}, true)
	var conflict *journal.ConflictError
	if errors.As(err, &conflict) {
		fmt.Println("conflict:", errcode.Classify(err, ""), "actual version", conflict.Actual)
	}

	// The right version; end=true takes the call out of the live set.
	seq, _ = j.Append(ctx, "call/0001", 2, [][]byte{[]byte("hangup")}, true)
	fmt.Println("hangup seq:", seq)

	_ = j.ReadStream("call/0001", 2, func(r journal.Record) error {
		fmt.Printf("v%d seq %d %s\n", r.Version, r.Seq, r.Data)
		return nil
	})
	live := 0
	_ = j.Live(func(string, uint64) error { live++; return nil })
	fmt.Println("live calls:", live, "last seq:", j.LastSeq())
	// Output:
	// first seq: 1
	// conflict: conflict actual version 2
	// hangup seq: 3
	// v2 seq 2 answered
	// v3 seq 3 hangup
	// live calls: 0 last seq: 3
}
