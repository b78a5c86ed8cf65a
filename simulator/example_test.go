package simulator_test

import (
	"context"
	"fmt"
	"os"

	"github.com/callengine/callengine/simulator"
)

// A scenario: a client calls an outside number that is busy after ringing
// for two seconds, and the engine crashes while it rings.
func ExampleRun() {
	sc, err := simulator.Parse([]byte(`
name: busy outside number
numbers: ["+33 1 00 00 00 00"]
clients:
  alice: {extensions: ["101"], devices: [alice-desk]}
far-end:
  "+33 6 00 00 00 01": busy after 2s
steps:
  - do: alice dial "+33 6 00 00 00 01" as c1
  - at: 1s
    do: crash
  - at: 5s
    expect:
      c1: ended reason=busy by=callee
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := simulator.Run(context.Background(), sc, simulator.Options{Out: os.Stdout})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok:", res.OK(), "events:", res.Events, "crashes:", res.Crashes)
	// Output:
	// 00:00.000    alice registered ext=101 devices=alice-desk
	// 00:00.000  > alice dial "+33 6 00 00 00 01" as c1
	// 00:00.000    c1 dialed from=alice/alice-desk to=+33600000001 dir=outbound
	// 00:00.000    c1 ringing timeout=30s
	// 00:01.000  > crash
	// 00:01.000  ~ restored 1 clients and 1 live calls from the journal
	// 00:02.000    c1 ended reason=busy by=callee
	// 00:05.000  = c1 ended from=alice/alice-desk to=+33600000001 caller-id=+33100000000 reason=busy by=callee
	// ok: true events: 4 crashes: 1
}
