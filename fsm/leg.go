package fsm

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/callengine/callengine/errcode"
	"github.com/callengine/callengine/events"
)

// RecordLeg journals what the adapter carrying the leg of Side needs to
// carry on after a restart: for a SIP leg its dialog record (issue 14). Data
// is opaque here, at most events.MaxLegData bytes. A record equal to the
// side's latest one journals nothing. A live call takes it in any state; an
// ended call refuses it.
type RecordLeg struct {
	Side    events.Side
	Adapter string
	Data    []byte
}

func (RecordLeg) callCommand() {}

// LegRecord returns the latest record of side s, and whether there is one.
func (c *Call) LegRecord(s events.Side) (events.CallLegRecorded, bool) {
	for _, l := range c.Legs {
		if l.Side == s {
			return l, true
		}
	}
	return events.CallLegRecorded{}, false
}

func decideRecordLeg(c *Call, cmd RecordLeg) ([]events.Event, error) {
	if !cmd.Side.Valid() {
		return nil, badSide(cmd.Side)
	}
	if cmd.Adapter == "" {
		return nil, errcode.New(errcode.MissingParameter, "a leg record needs its adapter")
	}
	if len(cmd.Data) > events.MaxLegData {
		return nil, errcode.Newf(errcode.InvalidParams, "a leg record holds at most %d bytes, not %d", events.MaxLegData, len(cmd.Data))
	}
	if !c.Status.Live() {
		return nil, invalidState(c, "record a leg")
	}
	if l, ok := c.LegRecord(cmd.Side); ok && l.Adapter == cmd.Adapter && bytes.Equal(l.Data, cmd.Data) {
		return nil, nil
	}
	var data []byte
	if len(cmd.Data) > 0 {
		data = slices.Clone(cmd.Data)
	}
	return []events.Event{events.CallLegRecorded{Side: cmd.Side, Adapter: cmd.Adapter, Data: data}}, nil
}

func applyRecordLeg(c *Call, e events.CallLegRecorded) error {
	if !c.Status.Live() || !e.Side.Valid() {
		return fmt.Errorf("call %s: leg recorded while %s", c.ID, c.Status)
	}
	for i, l := range c.Legs {
		if l.Side == e.Side {
			c.Legs = slices.Clone(c.Legs) // a Clone may share the slice
			c.Legs[i] = e
			return nil
		}
	}
	c.Legs = append(slices.Clip(c.Legs), e)
	slices.SortFunc(c.Legs, func(a, b events.CallLegRecorded) int { return int(a.Side) - int(b.Side) })
	return nil
}
