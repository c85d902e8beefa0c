package sqltest

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// Proxy stands between a service and a real database server on 127.0.0.1
// and injects the faults a network or server produces: Down refuses and
// cuts every connection (a stopped server), Hang keeps connections open but
// lets no byte through (a server process stopped with SIGSTOP, or a black
// hole), HangAt does the same to the one connection that sends a given
// statement, LoseAnswerTo cuts it once the statement went through, Up
// restores service. The database itself stays real.
type Proxy struct {
	target string
	addr   string

	mu     sync.Mutex
	cond   *sync.Cond
	ln     net.Listener
	hung   bool
	hangAt []byte
	holds  bool // a connection is held by HangAt
	loseAt []byte
	conns  map[net.Conn]struct{}
}

// The statements HangAt and LoseAnswerTo look for, as each protocol sends
// them: MySQL's COM_QUERY byte before the text, pgx's lower-case text
// ended by NUL in a Query message.
var (
	MySQLCommit    = []byte("\x03COMMIT")
	PostgresCommit = []byte("commit\x00")
)

// NewProxy starts a proxy to target (host:port); it stops when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{target: target, conns: map[net.Conn]struct{}{}}
	p.cond = sync.NewCond(&p.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.ln, p.addr = ln, ln.Addr().String()
	go p.accept(ln)
	t.Cleanup(p.Down)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Down closes the listener and every connection: new connections are refused.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.closeAllLocked()
}

// Hang stops every byte in both directions; connections stay open, and new
// ones are accepted but never answered.
func (p *Proxy) Hang() {
	p.mu.Lock()
	p.hung = true
	p.mu.Unlock()
}

// HangAt holds the next connection whose client sends stmt: neither that
// statement nor anything after it goes through, either way, as from a
// server that hangs there (a stalled disk at a COMMIT) after answering the
// statements before it. Other connections go on.
func (p *Proxy) HangAt(stmt []byte) {
	p.mu.Lock()
	p.hangAt = stmt
	p.mu.Unlock()
}

// LoseAnswerTo lets the next stmt a client sends through to the server and
// then cuts that client's connection, so that the server applies it and
// its answer never arrives (a network cut at that moment). The server's
// side closes once it has answered.
func (p *Proxy) LoseAnswerTo(stmt []byte) {
	p.mu.Lock()
	p.loseAt = stmt
	p.mu.Unlock()
}

// Up serves again. Connections that were held by Hang or HangAt are cut,
// as a server that resumes after a long stop finds its clients gone.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hung || p.holds {
		p.hung, p.holds = false, false
		p.closeAllLocked()
		p.cond.Broadcast()
	}
	if p.ln == nil {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return err
		}
		p.ln = ln
		go p.accept(ln)
	}
	return nil
}

func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
	p.cond.Broadcast()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			continue
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(server) {
		_ = client.Close()
		return
	}
	l := &link{client: client}
	go p.pipe(server, client, l)
	p.pipe(client, server, l)
}

// link is one client's connection through the proxy.
type link struct {
	client net.Conn
	held   bool // by HangAt
}

// pipe copies src to dst, holding each chunk while the proxy or the link
// hangs.
func (p *Proxy) pipe(dst, src net.Conn, l *link) {
	keepDst := false
	defer func() {
		_ = src.Close()
		if !keepDst {
			_ = dst.Close()
		}
	}()
	fromClient := src == l.client
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			if fromClient && p.hangAt != nil && bytes.Contains(buf[:n], p.hangAt) {
				l.held, p.holds, p.hangAt = true, true, nil
			}
			lose := fromClient && p.loseAt != nil && bytes.Contains(buf[:n], p.loseAt)
			if lose {
				p.loseAt = nil
			}
			for p.hung || (l.held && p.tracked(dst)) {
				p.cond.Wait()
			}
			open := p.tracked(dst)
			p.mu.Unlock()
			if !open {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if lose {
				// The server's side stays open until it answers, into a
				// client that is gone.
				keepDst = true
				return
			}
		}
		if err != nil { // io.EOF or a cut connection: both directions end
			return
		}
	}
}

func (p *Proxy) tracked(c net.Conn) bool {
	_, ok := p.conns[c]
	return ok
}
