package engine

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
	"github.com/callengine/callengine/fsm"
)

// CallparkLine is the special line of parked calls (T5, CL5): a Filter whose
// Lines holds it receives the events of every parked call, with its slot in
// Call.ParkSlot, and the CallParked and CallUnparked events.
const CallparkLine = "callpark"

// matchesCallpark reports whether ev belongs on the callpark line: an event
// of a call that is parked (or was, when the call ended parked), or a park
// or unpark.
func matchesCallpark(ev *Event) bool {
	if ev.Call == nil {
		return false
	}
	return ev.Call.ParkSlot != "" || ev.Type == events.TypeCallParked || ev.Type == events.TypeCallUnparked
}

// controlLocks serialise the commands whose check spans several calls: the
// choice of a park slot and the park itself, so that two parks never take
// the same slot; and the two joins of a merge, so that two merges never
// interleave on a shared call.
type controlLocks struct {
	park  sync.Mutex
	merge sync.Mutex
}

func (e *Engine) locks() *controlLocks { return &e.control }

// Park parks a connected or held call on behalf of side by (T5): the client
// on side by leaves the call and the party on the other side waits, held, in
// slot until a client unparks it. An empty slot takes the first free one of
// "1", "2", …; a slot that holds another live call is a conflict. Events of
// parked calls are on the callpark line (CallparkLine).
func (e *Engine) Park(ctx context.Context, callID string, by Side, slot string) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if callID == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "call id is empty")
	}
	if err := validSlot(slot); err != nil {
		return Call{}, err
	}
	l := e.locks()
	l.park.Lock()
	defer l.park.Unlock()
	parked, err := e.liveCallViews(ctx, func(c *Call) bool { return c.ParkSlot != "" })
	if err != nil {
		return Call{}, err
	}
	used := make(map[string]string, len(parked)) // slot → call
	for _, c := range parked {
		used[c.ParkSlot] = c.ID
	}
	if slot == "" {
		for n := 1; ; n++ {
			if s := strconv.Itoa(n); used[s] == "" {
				slot = s
				break
			}
		}
	} else if other := used[slot]; other != "" && other != callID {
		return Call{}, errcode.Newf(errcode.Conflict, "park slot %s holds call %s", slot, other)
	}
	// A call parked already (in this slot or another) is refused by fsm.
	var c Call
	err = e.command(ctx, callID, fsm.Park{By: by, Slot: slot}, &c)
	return c, err
}

// validSlot checks a park slot given by a caller: printable, no spaces, no
// '/', at most 64 bytes. "" means "the first free slot".
func validSlot(slot string) error {
	if len(slot) > 64 {
		return errcode.Newf(errcode.InvalidParams, "park slot %.16q… is longer than 64 bytes", slot)
	}
	for _, r := range slot {
		if r <= ' ' || r == '/' || r == 0x7f {
			return errcode.Newf(errcode.InvalidParams, "park slot %q has a space, a control character or '/'", slot)
		}
	}
	return nil
}

// Pause parks the call into the own slot of the client on side by (T5):
// its first extension, else its first number, else its id. A client has one
// such slot: pausing a second call while the first waits is a conflict.
func (e *Engine) Pause(ctx context.Context, callID string, by Side) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if !by.Valid() {
		return Call{}, errcode.Newf(errcode.InvalidParams, "side %d is neither caller nor callee", by)
	}
	c, err := e.Call(ctx, callID)
	if err != nil {
		return Call{}, err
	}
	if !c.State.Live() {
		return Call{}, errcode.Newf(errcode.InvalidState, "call %s has ended", callID)
	}
	p := partyOf(&c, by)
	if p.Client == "" {
		return Call{}, errcode.Newf(errcode.InvalidParams, "only a client pauses a call: the %s of call %s is external", by, callID)
	}
	// The party on side by changes only by an unpark, which needs the call
	// parked, and a parked call refuses Park: the slot chosen here is the
	// one of the client that parks.
	return e.Park(ctx, callID, by, e.ownSlot(p.Client))
}

// ownSlot is the slot Pause parks a client's call in.
func (e *Engine) ownSlot(clientID string) string {
	if cl := e.dir.get(clientID); cl != nil {
		if len(cl.Extensions) > 0 {
			return cl.Extensions[0]
		}
		if len(cl.Numbers) > 0 {
			return cl.Numbers[0]
		}
	}
	return clientID
}

// Unpark hands a parked call to a registered client (T5), optionally on one
// of its devices: the client takes the place of the party that parked the
// call, and the call is connected again unless the parked party holds it
// too. Any client may unpark, except the parked party itself.
func (e *Engine) Unpark(ctx context.Context, callID, clientID, device string) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if callID == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "call id is empty")
	}
	party, err := e.unparkParty(clientID, device)
	if err != nil {
		return Call{}, err
	}
	var c Call
	err = e.command(ctx, callID, fsm.Unpark{Party: party, Device: device}, &c)
	return c, err
}

// unparkParty checks the client that unparks and returns it as a party.
func (e *Engine) unparkParty(clientID, device string) (Party, error) {
	if clientID == "" {
		return Party{}, errcode.New(errcode.MissingParameter, "unpark needs the client that takes the call")
	}
	cl := e.dir.get(clientID)
	if cl == nil || !cl.Registered() {
		return Party{}, errcode.Newf(errcode.NotFound, "client %s is not registered", clientID)
	}
	if device != "" {
		if _, ok := cl.Device(device); !ok {
			return Party{}, errcode.Newf(errcode.InvalidParams, "client %s has no device %q", clientID, device)
		}
	}
	number, err := e.router().callerID(cl, "", false)
	if err != nil {
		return Party{}, err
	}
	return Party{Client: cl.ID, Number: number, Name: cl.Name}, nil
}

// UnparkSlot unparks the call that waits in slot; see Unpark. An empty slot
// is not_found.
func (e *Engine) UnparkSlot(ctx context.Context, slot, clientID, device string) (Call, error) {
	if err := e.checkOpen(); err != nil {
		return Call{}, err
	}
	if slot == "" {
		return Call{}, errcode.New(errcode.MissingParameter, "unpark needs a slot")
	}
	if _, err := e.unparkParty(clientID, device); err != nil {
		return Call{}, err
	}
	parked, err := e.liveCallViews(ctx, func(c *Call) bool { return c.ParkSlot == slot })
	if err != nil {
		return Call{}, err
	}
	if len(parked) == 0 {
		return Call{}, errcode.Newf(errcode.NotFound, "no call is parked in slot %s", slot)
	}
	// Unparked by someone else meanwhile: fsm refuses with invalid_state.
	return e.Unpark(ctx, parked[0].ID, clientID, device)
}

// ParkedCalls returns every parked call, ordered by slot: numeric slots
// first, in numeric order, then the others in byte order.
func (e *Engine) ParkedCalls(ctx context.Context) ([]Call, error) {
	if err := e.checkOpen(); err != nil {
		return nil, err
	}
	parked, err := e.liveCallViews(ctx, func(c *Call) bool { return c.ParkSlot != "" })
	if err != nil {
		return nil, err
	}
	slices.SortFunc(parked, func(a, b Call) int {
		if c := compareSlots(a.ParkSlot, b.ParkSlot); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return parked, nil
}

// compareSlots orders numeric slots numerically (of any length), before
// every other slot.
func compareSlots(a, b string) int {
	na, nb := fsm.IsDigits(a), fsm.IsDigits(b)
	switch {
	case na && nb:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if c := cmp.Compare(len(a), len(b)); c != 0 {
			return c
		}
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}
