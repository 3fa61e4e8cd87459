// Package faultproxy is a TCP proxy for fault tests: it forwards a loopback
// port to a real service and can cut every connection and refuse new ones
// (the service looks dead to its clients) and then come back on the same
// port, without touching the service itself. It suits protocols whose
// clients dial the address they are given (ClickHouse, PostgreSQL), not
// Kafka, whose clients dial the brokers' advertised addresses.
package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
)

// Proxy forwards connections on Addr to a target.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target.
func Start(ctx context.Context, target string) (*Proxy, error) {
	p := &Proxy{target: target, conns: map[net.Conn]bool{}}
	if err := p.listen(ctx, "127.0.0.1:0"); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is the address clients dial.
func (p *Proxy) Addr() string { return p.addr }

func (p *Proxy) listen(ctx context.Context, addr string) error {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() { p.accept(ctx, ln) })
	return nil
}

func (p *Proxy) accept(ctx context.Context, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // cut meanwhile
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			return
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c, up) })
		p.wg.Go(func() { p.pipe(up, c) })
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes the listener and every connection: clients see the service
// die. It waits for the proxy's goroutines to end.
func (p *Proxy) Cut() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	p.wg.Wait()
}

// ErrNotCut is returned by Restore on a proxy that is serving.
var ErrNotCut = errors.New("faultproxy: not cut")

// Restore listens again on the same address.
func (p *Proxy) Restore(ctx context.Context) error {
	p.mu.Lock()
	serving := p.ln != nil
	p.mu.Unlock()
	if serving {
		return ErrNotCut
	}
	return p.listen(ctx, p.addr)
}

// Close cuts the proxy for good.
func (p *Proxy) Close() { p.Cut() }
