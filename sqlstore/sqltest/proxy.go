package sqltest

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards the TCP connections made to its address to a target
// address, so that tests can fail a store's network the ways real
// networks fail: Cut closes it and every connection through it (a crash,
// a reset), Freeze stops carrying bytes while the connections stay open
// (a half-open connection: a peer gone without a word), and Start serves
// the same address again.
type Proxy struct {
	tb     testing.TB
	target string

	mu     sync.Mutex
	thawed *sync.Cond // signalled when frozen turns false
	frozen bool
	addr   string
	ln     net.Listener // nil while cut
	conns  map[net.Conn]struct{}
}

// StartProxy returns a running proxy to target on a free local port; it
// is cut when tb ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p := &Proxy{tb: tb, target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.thawed = sync.NewCond(&p.mu)
	p.Start()
	tb.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Start listens on the proxy's address again after Cut.
func (p *Proxy) Start() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Fatalf("proxy: %v", err)
	}
	p.addr, p.ln = ln.Addr().String(), ln
	go p.accept(ln)
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		client, err := ln.Accept()
		if err != nil {
			return // cut
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(client, server)
		go p.pipe(server, client)
	}
}

// pipe carries one direction, holding what it reads while the proxy is
// frozen; when either side ends, both are closed.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.frozen {
				p.thawed.Wait()
			}
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Freeze stops carrying bytes; the connections stay open, silent.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

// Cut stops listening and closes every connection through the proxy.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.frozen = false
	p.thawed.Broadcast()
}
