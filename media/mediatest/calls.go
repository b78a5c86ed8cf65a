package mediatest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/callengine/callengine/media"
)

// CallsSettings shape RunCalls.
type CallsSettings struct {
	// Calls is how many relayed calls run at once; 0 = 1.
	Calls int
	// Duration is how long audio flows; 0 = 2 s.
	Duration time.Duration
	// Peer shapes each peer (codec, interval, ICE settings); the marker is
	// set per peer.
	Peer Settings
	// Prefix names the legs, "<prefix><i>a" and "<prefix><i>b"; "" = "call".
	Prefix string
}

// CallsResult are the figures of RunCalls.
type CallsResult struct {
	Calls            int
	Setup            time.Duration // setting up all the calls (offer, answer, ICE, DTLS)
	Duration         time.Duration // audio flowing
	Sent             uint64        // audio packets the peers sent
	Received         uint64        // audio packets the peers received, each from its own call's other peer
	Misrouted        uint64        // packets a peer received from someone not in its call
	PacketsPerSecond float64       // Received per second of Duration
	Loss             float64       // 1 - Received/Sent
}

// RunCalls sets up Calls relayed calls on r, each between two peers (one
// dials the relay, the relay offers the other the same codec), connects
// them, lets both sides send packets for Duration, and counts.
func RunCalls(ctx context.Context, r *media.Relay, s CallsSettings) (CallsResult, error) {
	if s.Calls <= 0 {
		s.Calls = 1
	}
	if s.Duration <= 0 {
		s.Duration = 2 * time.Second
	}
	if s.Prefix == "" {
		s.Prefix = "call"
	}
	type pair struct {
		a, b       *TestPeer
		legA, legB string
		mA, mB     string
	}
	pairs := make([]*pair, s.Calls)
	defer func() {
		for _, p := range pairs {
			if p == nil {
				continue
			}
			for _, x := range []*TestPeer{p.a, p.b} {
				if x != nil {
					_ = x.Close()
				}
			}
			_ = r.CloseLeg(p.legA)
			_ = r.CloseLeg(p.legB)
		}
	}()
	start := time.Now()
	errs := make(chan error, s.Calls)
	var wg sync.WaitGroup
	for i := range pairs {
		p := &pair{
			legA: fmt.Sprintf("%s%da", s.Prefix, i), legB: fmt.Sprintf("%s%db", s.Prefix, i),
			mA: fmt.Sprintf("a%07d", i), mB: fmt.Sprintf("b%07d", i),
		}
		pairs[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- setupPair(ctx, r, s.Peer, &p.a, &p.b, p.legA, p.legB, p.mA, p.mB)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return CallsResult{}, err
		}
	}
	res := CallsResult{Calls: s.Calls, Setup: time.Since(start)}
	for _, p := range pairs {
		if err := r.Connect(p.legA, p.legB); err != nil {
			return res, err
		}
	}
	for _, p := range pairs {
		p.a.Start()
		p.b.Start()
	}
	flowStart := time.Now()
	select {
	case <-time.After(s.Duration):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	for _, p := range pairs {
		p.a.Stop()
		p.b.Stop()
	}
	res.Duration = time.Since(flowStart)
	time.Sleep(200 * time.Millisecond) // what is in flight
	for _, p := range pairs {
		res.Sent += p.a.Sent() + p.b.Sent()
		fromB, fromA := p.a.ReceivedFrom(p.mB), p.b.ReceivedFrom(p.mA)
		res.Received += fromA + fromB
		res.Misrouted += p.a.Received().Audio - fromB + p.b.Received().Audio - fromA
	}
	res.PacketsPerSecond = float64(res.Received) / res.Duration.Seconds()
	if res.Sent > 0 {
		res.Loss = 1 - float64(res.Received)/float64(res.Sent)
		if res.Loss < 0 {
			res.Loss = 0
		}
	}
	return res, nil
}

func setupPair(ctx context.Context, r *media.Relay, ps Settings, a, b **TestPeer, legA, legB, mA, mB string) error {
	sa, sb := ps, ps
	sa.Marker, sb.Marker = mA, mB
	var err error
	if *a, err = NewTestPeer(ctx, sa); err != nil {
		return err
	}
	if *b, err = NewTestPeer(ctx, sb); err != nil {
		return err
	}
	if err := (*a).Dial(ctx, r, legA, media.LegEvents{}); err != nil {
		return fmt.Errorf("mediatest: %s: %w", legA, err)
	}
	if err := (*b).Accept(ctx, r, legB, media.OfferOptions{MatchLeg: legA}, media.LegEvents{}); err != nil {
		return fmt.Errorf("mediatest: %s: %w", legB, err)
	}
	if err := (*a).WaitConnected(ctx); err != nil {
		return fmt.Errorf("mediatest: %s: %w", legA, err)
	}
	return (*b).WaitConnected(ctx)
}
