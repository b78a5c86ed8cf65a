package events_test

import (
	"encoding/json"
	"fmt"

	"github.com/callengine/callengine/events"
)

// An actor encodes the event it decided; the journal keeps the body under a
// sequence number, a stream and a version; on replay the body decodes into an
// envelope, which people read as JSON.
func ExampleDecodeBody() {
	body := events.EncodeBody(nil, 1_700_000_000_123_456_789, events.CallDialed{
		Caller:       events.Party{Client: "alice", Number: "101", Name: "Alice"},
		Callee:       events.Party{Number: "+4930123456", Name: "Zoë"},
		CallerDevice: "alice-phone",
		Destination:  "030 123456",
		Direction:    events.Outbound,
	})

	env := events.Envelope{Seq: 42, Stream: "call/c-1", Version: 1}
	if err := events.DecodeBody(body, &env); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env)
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))

	// Output:
	// #42 call/c-1@1 2023-11-14T22:13:20.123456789Z CallDialed
	// {
	//   "seq": 42,
	//   "stream": "call/c-1",
	//   "version": 1,
	//   "type": "CallDialed",
	//   "time": "2023-11-14T22:13:20.123456789Z",
	//   "schema": 3,
	//   "data": {
	//     "caller": {
	//       "client": "alice",
	//       "number": "101",
	//       "name": "Alice"
	//     },
	//     "callee": {
	//       "number": "+4930123456",
	//       "name": "Zoë"
	//     },
	//     "caller_device": "alice-phone",
	//     "destination": "030 123456",
	//     "direction": "outbound"
	//   }
	// }
}

// Bytes that are not an event give an error with code malformed.
func ExampleDecodeBody_malformed() {
	body := events.EncodeBody(nil, 0, events.CallHeld{By: events.Caller})
	var env events.Envelope
	err := events.DecodeBody(body[:len(body)-1], &env)
	fmt.Println(err)
	// Output:
	// malformed: event: truncated
}

// The client SDKs name the transfer events, the recording events and the hold
// notice; other events have no SDK name.
func ExampleSDKName() {
	for _, ev := range []events.Event{
		events.TransferInitiated{Kind: events.Blind, Call: "call-1", Kept: events.Caller, Target: events.Party{Number: "104"}, NewCall: "call-2"},
		events.TransferInitiated{Kind: events.Attended, Call: "call-1", Kept: events.Callee, Target: events.Party{Number: "105"}, Consult: "call-3", NewCall: "call-4"},
		events.TransferAnswered{},
		events.TransferNotAnswered{Reason: "busy"},
		events.TransferCompleted{},
		events.TransferNotCompleted{Reason: "the target hung up"},
		events.TransferCanceled{},
		events.TransferFailed{Reason: "the original call ended"},
		events.CallHoldNotAvailable{By: events.Caller, Reason: "the call is not connected"},
		events.CallRecordingStarted{By: events.Caller, Ref: "rec-1"},
		events.CallRecordingStopped{By: events.Caller},
		events.CallHeld{By: events.Caller},
	} {
		fmt.Printf("%-20s %q\n", ev.Type(), events.SDKName(ev))
	}
	// Output:
	// TransferInitiated    "TRANSFER_BLIND_INIT"
	// TransferInitiated    "WARM_INIT"
	// TransferAnswered     "WARM_ANSWERED"
	// TransferNotAnswered  "WARM_NOT_ANSWERED"
	// TransferCompleted    "WARM_COMPLETED"
	// TransferNotCompleted "WARM_NOT_COMPLETED"
	// TransferCanceled     "WARM_CANCELED"
	// TransferFailed       "TRANSFER_FAILED"
	// CallHoldNotAvailable "HOLD_NOT_AVAILABLE"
	// CallRecordingStarted "RECORDING"
	// CallRecordingStopped "NOT_RECORDING"
	// CallHeld             ""
}
