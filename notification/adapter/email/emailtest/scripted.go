package emailtest

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/email"
)

// Scripted is a plain SMTP server (no TLS, no authentication) for what
// go-smtp's server will not do: answer the message with a chosen reply,
// or misbehave on QUIT.
type Scripted struct {
	Addr string

	dataReply string
	onQuit    func(net.Conn)
	mu        sync.Mutex
	accepted  int
}

// NewScripted starts a server on 127.0.0.1, stopped when the test ends.
// It answers the message's final dot with dataReply ("" is a 250) and, on
// QUIT, calls onQuit instead of answering 221 (nil: it answers 221), then
// closes the connection.
func NewScripted(t testing.TB, dataReply string, onQuit func(net.Conn)) *Scripted {
	if dataReply == "" {
		dataReply = "250 2.0.0 queued"
	}
	if onQuit == nil {
		onQuit = func(c net.Conn) { _, _ = c.Write([]byte("221 bye\r\n")) }
	}
	s := &Scripted{dataReply: dataReply, onQuit: onQuit}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s.Addr = ln.Addr().String()
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

// Config is the mailer configuration for this server.
func (s *Scripted) Config() email.SMTPConfig {
	return email.SMTPConfig{Addr: s.Addr, From: "a@example.org", TLS: email.NoTLS, Timeout: 2 * time.Second}
}

// Accepted is how many messages the server answered with a 2xx.
func (s *Scripted) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

func (s *Scripted) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	w("220 scripted ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			w("250-scripted")
			w("250 8BITMIME")
		case cmd == "DATA":
			w("354 go ahead")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			if strings.HasPrefix(s.dataReply, "2") {
				s.mu.Lock()
				s.accepted++
				s.mu.Unlock()
			}
			w(s.dataReply)
		case cmd == "QUIT":
			s.onQuit(c)
			return
		default:
			w("250 ok")
		}
	}
}
