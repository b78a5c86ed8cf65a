package events

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/callengine/callengine/errcode"
)

// SchemaVersion is the schema this code writes. Version 1 is the first;
// version 2 added call control, transfers, groups and text messages, and
// trailing fields to CallDialed and ClientRegistered; version 3 added
// sessions, presence, voicemail and call history, and CallDialed's voicemail
// limit. Older bodies decode with the newer fields empty.
const SchemaVersion = 3

const (
	bodyMagic     = 0xCE // first byte of an encoded body
	envelopeMagic = 0xCF // first byte of an encoded envelope
)

// Envelope places an event in the journal.
type Envelope struct {
	Seq     uint64 // global sequence number, from 1; also the event's stable id
	Stream  string // the aggregate's stream, e.g. "call/01H…"
	Version uint64 // position in the stream, from 1
	Type    Type
	Time    int64  // engine-clock time, Unix nanoseconds
	Schema  uint16 // schema version that wrote the event
	Event   Event
}

// At returns the envelope's time as a time.Time in UTC.
func (e *Envelope) At() time.Time { return time.Unix(0, e.Time).UTC() }

// EncodeBody appends the journal body of an event — schema, type, time and the
// payload — to b. Sequence, stream and version are kept by the journal.
func EncodeBody(b []byte, at int64, ev Event) []byte {
	b = append(b, bodyMagic)
	b = binary.AppendUvarint(b, SchemaVersion)
	b = binary.AppendUvarint(b, uint64(ev.Type()))
	b = binary.AppendVarint(b, at)
	return ev.appendBinary(b)
}

// DecodeBody decodes a body written by EncodeBody into env, whose Seq, Stream
// and Version the caller has set. Bytes that are not a body give an error with
// code malformed.
func DecodeBody(data []byte, env *Envelope) error {
	d := decoder{b: data}
	d.body(env)
	return d.finish()
}

// Marshal encodes a whole envelope (sequence, stream and version included), for
// transports and files outside the journal.
func Marshal(b []byte, env *Envelope) []byte {
	b = append(b, envelopeMagic)
	b = binary.AppendUvarint(b, env.Seq)
	b = appendString(b, env.Stream)
	b = binary.AppendUvarint(b, env.Version)
	return EncodeBody(b, env.Time, env.Event)
}

// Unmarshal decodes an envelope written by Marshal.
func Unmarshal(data []byte) (Envelope, error) {
	var env Envelope
	d := decoder{b: data}
	if d.byte() != envelopeMagic && d.err == nil {
		d.fail("not an envelope")
	}
	env.Seq = d.uvarint()
	env.Stream = d.string()
	env.Version = d.uvarint()
	d.body(&env)
	return env, d.finish()
}

type decoder struct {
	b   []byte
	err error
}

func malformedf(format string, args ...any) error {
	return errcode.Newf(errcode.Malformed, "event: "+format, args...)
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = errcode.Newf(errcode.Malformed, "event: "+format, args...)
	}
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

func (d *decoder) body(env *Envelope) {
	if d.byte() != bodyMagic && d.err == nil {
		d.fail("not an event body")
	}
	schema := d.uvarint()
	if d.err == nil && (schema == 0 || schema > SchemaVersion) {
		d.fail("schema version %d not supported (this code reads 1..%d)", schema, SchemaVersion)
	}
	t := d.uvarint()
	at := d.varint()
	if d.err != nil {
		return
	}
	if t > math.MaxUint16 {
		d.fail("unknown event type %d", t)
		return
	}
	env.Schema = uint16(schema)
	env.Type = Type(t)
	env.Time = at
	env.Event = d.payload(env.Type, schema)
}

// The payload decoders of the types schemas 2 and 3 added, as method
// expressions: method values (d.controlPayload) would be allocated at every
// decode.
var (
	schema2Payloads = [...]func(*decoder, Type) Event{(*decoder).controlPayload, (*decoder).transferPayload, (*decoder).groupPayload, (*decoder).messagePayload}
	schema3Payloads = [...]func(*decoder, Type) Event{(*decoder).clientPayload, (*decoder).voicemailPayload, (*decoder).sessionPayload, (*decoder).legPayload}
)

func (d *decoder) payload(t Type, schema uint64) Event {
	if schema >= 2 {
		for _, dec := range schema2Payloads {
			if ev := dec(d, t); ev != nil {
				return ev
			}
		}
	}
	if schema >= 3 {
		for _, dec := range schema3Payloads {
			if ev := dec(d, t); ev != nil {
				return ev
			}
		}
	}
	switch t {
	case TypeClientRegistered:
		var e ClientRegistered
		e.Name = d.string()
		e.Numbers = d.strings()
		e.Extensions = d.strings()
		n := d.count(3)
		if n > 0 {
			e.Devices = make([]Device, n)
			for i := range e.Devices {
				e.Devices[i] = d.device()
			}
		}
		e.AcceptInbound = d.bool()
		if schema >= 2 {
			e.Permissions = d.strings()
		}
		return e
	case TypeClientUnregistered:
		return ClientUnregistered{}
	case TypeDeviceAdded:
		return DeviceAdded{Device: d.device()}
	case TypeDeviceRemoved:
		return DeviceRemoved{ID: d.string()}
	case TypeClientUpdated:
		var e ClientUpdated
		e.Name = d.string()
		e.AcceptInbound = d.bool()
		return e
	case TypeCallDialed:
		var e CallDialed
		e.Caller = d.party()
		e.Callee = d.party()
		e.CallerDevice = d.string()
		e.CallerID = d.string()
		e.Destination = d.string()
		e.Direction = Direction(d.byte())
		if e.Direction > Inbound && (schema < 2 || e.Direction > Transit) {
			d.fail("unknown direction %d", e.Direction)
		}
		if schema >= 2 {
			e.Group = d.string()
			e.Transfer = d.string()
			e.CallerLeg = d.string()
			e.CalleeLeg = d.string()
			e.Origin = d.string()
		}
		if schema >= 3 {
			e.VoicemailLimit = d.varint()
			if e.VoicemailLimit < 0 {
				d.fail("negative voicemail limit")
			}
		}
		return e
	case TypeCallRinging:
		var e CallRinging
		e.Devices = d.strings()
		e.Deadline = d.varint()
		return e
	case TypeCallAnswered:
		return CallAnswered{Device: d.string()}
	case TypeCallHeld:
		return CallHeld{By: d.side()}
	case TypeCallResumed:
		return CallResumed{By: d.side()}
	case TypeCallMuted:
		return CallMuted{Side: d.side()}
	case TypeCallUnmuted:
		return CallUnmuted{Side: d.side()}
	case TypeCallIgnored:
		return CallIgnored{}
	case TypeCallEnded:
		var e CallEnded
		e.Reason = Reason(d.byte())
		if e.Reason == NoReason || e.Reason > Missed && (schema < 3 || e.Reason > Voicemail) {
			d.fail("unknown end reason %d", e.Reason)
		}
		e.By = Side(d.byte())
		if e.By > Callee {
			d.fail("unknown side %d", e.By)
		}
		e.Missed = d.bool()
		return e
	}
	d.fail("unknown event type %d", t)
	return nil
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad boolean")
	return false
}

func (d *decoder) side() Side {
	s := Side(d.byte())
	if !s.Valid() {
		d.fail("bad side %d", s)
	}
	return s
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n == 0 {
		d.fail("truncated")
		return 0
	}
	if n < 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n == 0 {
		d.fail("truncated")
		return 0
	}
	if n < 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a list length; every element takes at least min bytes, so a
// length larger than the bytes left is refused before anything is allocated.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.fail("list of %d does not fit in %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes truncated", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.string()
	}
	return out
}

func (d *decoder) party() Party {
	return Party{Client: d.string(), Number: d.string(), Name: d.string()}
}

func (d *decoder) device() Device {
	return Device{ID: d.string(), Kind: d.string(), Contact: d.string()}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendParty(b []byte, p Party) []byte {
	b = appendString(b, p.Client)
	b = appendString(b, p.Number)
	return appendString(b, p.Name)
}

func appendDevice(b []byte, dv Device) []byte {
	b = appendString(b, dv.ID)
	b = appendString(b, dv.Kind)
	return appendString(b, dv.Contact)
}

func (e ClientRegistered) appendBinary(b []byte) []byte {
	b = appendString(b, e.Name)
	b = appendStrings(b, e.Numbers)
	b = appendStrings(b, e.Extensions)
	b = binary.AppendUvarint(b, uint64(len(e.Devices)))
	for _, dv := range e.Devices {
		b = appendDevice(b, dv)
	}
	b = appendBool(b, e.AcceptInbound)
	return appendStrings(b, e.Permissions)
}

func (ClientUnregistered) appendBinary(b []byte) []byte { return b }
func (e DeviceAdded) appendBinary(b []byte) []byte      { return appendDevice(b, e.Device) }
func (e DeviceRemoved) appendBinary(b []byte) []byte    { return appendString(b, e.ID) }
func (e ClientUpdated) appendBinary(b []byte) []byte {
	return appendBool(appendString(b, e.Name), e.AcceptInbound)
}

func (e CallDialed) appendBinary(b []byte) []byte {
	b = appendParty(b, e.Caller)
	b = appendParty(b, e.Callee)
	b = appendString(b, e.CallerDevice)
	b = appendString(b, e.CallerID)
	b = appendString(b, e.Destination)
	b = append(b, byte(e.Direction))
	b = appendString(b, e.Group)
	b = appendString(b, e.Transfer)
	b = appendString(b, e.CallerLeg)
	b = appendString(b, e.CalleeLeg)
	b = appendString(b, e.Origin)
	return binary.AppendVarint(b, e.VoicemailLimit)
}

func (e CallRinging) appendBinary(b []byte) []byte {
	return binary.AppendVarint(appendStrings(b, e.Devices), e.Deadline)
}

func (e CallAnswered) appendBinary(b []byte) []byte { return appendString(b, e.Device) }
func (e CallHeld) appendBinary(b []byte) []byte     { return append(b, byte(e.By)) }
func (e CallResumed) appendBinary(b []byte) []byte  { return append(b, byte(e.By)) }
func (e CallMuted) appendBinary(b []byte) []byte    { return append(b, byte(e.Side)) }
func (e CallUnmuted) appendBinary(b []byte) []byte  { return append(b, byte(e.Side)) }
func (CallIgnored) appendBinary(b []byte) []byte    { return b }
func (e CallEnded) appendBinary(b []byte) []byte {
	return appendBool(append(b, byte(e.Reason), byte(e.By)), e.Missed)
}

// String gives a one-line description for logs and timelines.
func (e Envelope) String() string {
	return fmt.Sprintf("#%d %s@%d %s %s", e.Seq, e.Stream, e.Version, e.At().Format(time.RFC3339Nano), e.Type)
}
