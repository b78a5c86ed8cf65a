package server

import "testing"

// sip.relay_phones is true unless set false: by default, from the zero
// value, in a file, in the environment and on the command line; an invalid
// value is a problem naming the setting.
func TestRelayPhonesDefault(t *testing.T) {
	c, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.SIP.Relayed() || !(Config{}).WithDefaults().SIP.Relayed() || !(SIP{}).Relayed() {
		t.Fatal("sip.relay_phones is not on by default")
	}
	off := writeFile(t, "serve.yaml", "sip:\n  relay_phones: false\n")
	if c, err = Load(Sources{File: off}); err != nil || c.SIP.Relayed() || c.WithDefaults().SIP.Relayed() {
		t.Fatalf("relay_phones: false in the file: relayed %v, %v", c.SIP.Relayed(), err)
	}
	if c, err = Load(Sources{File: off, Env: env(map[string]string{"CALLENGINE_SIP_RELAY_PHONES": "true"})}); err != nil || !c.SIP.Relayed() {
		t.Fatalf("the environment turns it on again: relayed %v, %v", c.SIP.Relayed(), err)
	}
	if c, err = Load(Sources{Flags: map[string]string{"sip.relay_phones": "false"}}); err != nil || c.SIP.Relayed() {
		t.Fatalf("a flag turns it off: relayed %v, %v", c.SIP.Relayed(), err)
	}
	if _, err = Load(Sources{Env: env(map[string]string{"CALLENGINE_SIP_RELAY_PHONES": "maybe"})}); err == nil {
		t.Fatal("an invalid relay_phones was accepted")
	}
}
