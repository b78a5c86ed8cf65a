// Package clock is the one source of time in callengine. Production code uses
// Real; tests and the simulator use a Virtual clock that moves only when told
// to, so that timers (ring timeouts, grace timers) fire at the same instants on
// every run.
//
// Decision code never calls time.Now: the engine reads its Clock and passes the
// instant into fsm/ as an argument.
package clock
