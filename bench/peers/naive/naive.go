// Package naive is the in-memory peer: the records in Go slices, stays
// grouped by venue and encounters by person, and plain loops over them — what
// an analyst would write in an afternoon.
package naive

import (
	"context"

	"github.com/truyvet/truyvet/bench/peers"
	"github.com/truyvet/truyvet/query/graph"
	"github.com/truyvet/truyvet/schemas/event"
)

// Peer is the in-memory peer.
type Peer struct {
	byUser     map[uint32][]peers.Stay
	byVenue    map[uint32][]peers.Stay
	encounters map[uint32][]event.Encounter
}

var _ peers.Peer = (*Peer)(nil)

// New returns an empty peer.
func New() *Peer { return &Peer{} }

// Name implements peers.Peer.
func (p *Peer) Name() string { return "naive in-memory (Go loops)" }

// Load implements peers.Peer.
func (p *Peer) Load(_ context.Context, visits []event.Visit, encounters []event.Encounter) error {
	p.byUser, p.byVenue, p.encounters = map[uint32][]peers.Stay{}, map[uint32][]peers.Stay{}, map[uint32][]event.Encounter{}
	for _, s := range peers.CombineStays(visits) {
		p.byUser[s.User] = append(p.byUser[s.User], s)
		p.byVenue[s.Venue] = append(p.byVenue[s.Venue], s)
	}
	for _, e := range encounters {
		p.encounters[e.UserID] = append(p.encounters[e.UserID], e)
		p.encounters[e.PeerID] = append(p.encounters[e.PeerID], e)
	}
	return nil
}

// Contacts implements peers.Peer.
func (p *Peer) Contacts(ctx context.Context, sources map[uint32]int64, to int64) ([]peers.Span, error) {
	var out []peers.Span
	for src, lo := range sources {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, s := range p.byUser[src] {
			if s.End <= lo || s.Start >= to {
				continue
			}
			for _, o := range p.byVenue[s.Venue] {
				if o.User == src || o.End <= s.Start || o.Start >= s.End {
					continue
				}
				out = append(out, peers.Span{Source: src, Other: o.User, Start: max(s.Start, o.Start), End: min(s.End, o.End), Channel: graph.ChannelVenue})
			}
		}
		for _, e := range p.encounters[src] {
			other := e.PeerID
			if other == src {
				other = e.UserID
			}
			if e.End() <= lo || e.Start >= to {
				continue
			}
			out = append(out, peers.Span{Source: src, Other: other, Start: e.Start, End: e.End(), Channel: graph.ChannelProximity})
		}
	}
	return out, nil
}

// Close implements peers.Peer.
func (p *Peer) Close() error { return nil }
