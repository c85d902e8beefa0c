package sqldb

import (
	"context"
	"database/sql/driver"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// The stores write ? placeholders, which SQLite and MySQL take; PostgreSQL
// takes $1, $2... The connector below rewrites every query text on its way
// to pgx, so one store serves all three dialects. See
// docs/adr/0014-postgres-placeholder-rewriting.md for why and its limits.

// rebindConnector hands out connections that rewrite placeholders.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is pgx's connection with every entry point that takes a query
// text rewritten. Embedding the concrete type keeps every other interface
// database/sql looks for (Pinger, SessionResetter, NamedValueChecker...).
type rebindConn struct{ *stdlib.Conn }

func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), describedOnly(args))
}

func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), describedOnly(args))
}

// manyArgs is where a text is taken for one of a family (a multi-row
// INSERT, an IN list) rather than a fixed query.
const manyArgs = 48

// describedOnly has pgx describe, not prepare, a text with many arguments.
// pgx keeps every text it runs prepared on the server, up to 512 per
// connection, and a multi-row INSERT has one text per row count: the audit
// trails' batches of 1 to 256 rows kept some 170 MB of the server's memory
// per pooled connection. Fixed queries, fewer arguments, stay prepared; a
// leading QueryExecMode argument is pgx's own per-query option.
func describedOnly(args []driver.NamedValue) []driver.NamedValue {
	if len(args) <= manyArgs {
		return args
	}
	return append([]driver.NamedValue{{Value: pgx.QueryExecModeCacheDescribe}}, args...)
}

// rebind rewrites the ? placeholders of query to $1, $2... in order.
func rebind(query string) string {
	if strings.IndexByte(query, '?') < 0 {
		return query
	}
	marks, _ := placeholders(query)
	if len(marks) == 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 2*len(marks))
	last := 0
	for i, at := range marks {
		b.WriteString(query[last:at])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i + 1))
		last = at + 1
	}
	b.WriteString(query[last:])
	return b.String()
}

// placeholders returns the offsets of the ? that are placeholders: those
// outside string constants ('...', E'...' with backslash escapes), quoted
// identifiers ("..."), comments (-- to the end of the line, nested /* */)
// and dollar-quoted strings ($$...$$, $tag$...$tag$). closed is false when
// query ends inside one of those.
func placeholders(query string) (marks []int, closed bool) {
	n := len(query)
	for i := 0; i < n; {
		c := query[i]
		switch {
		case c == '?':
			marks = append(marks, i)
			i++
		case c == '\'':
			escapes := i > 0 && (query[i-1] == 'e' || query[i-1] == 'E') && (i < 2 || !identChar(query[i-2]))
			end := endOfQuoted(query, i+1, '\'', escapes)
			if end < 0 {
				return marks, false
			}
			i = end
		case c == '"':
			end := endOfQuoted(query, i+1, '"', false)
			if end < 0 {
				return marks, false
			}
			i = end
		case c == '-' && i+1 < n && query[i+1] == '-':
			nl := strings.IndexByte(query[i:], '\n')
			if nl < 0 {
				return marks, false
			}
			i += nl + 1
		case c == '/' && i+1 < n && query[i+1] == '*':
			end := endOfBlockComment(query, i+2)
			if end < 0 {
				return marks, false
			}
			i = end
		case c == '$' && (i == 0 || !identChar(query[i-1])):
			tag, ok := dollarTag(query, i)
			if !ok {
				i++
				continue
			}
			end := strings.Index(query[i+len(tag):], tag)
			if end < 0 {
				return marks, false
			}
			i += len(tag) + end + len(tag)
		default:
			i++
		}
	}
	return marks, true
}

// endOfQuoted returns the offset just past the quote that closes a quoted
// text whose body starts at i; a doubled quote stands for itself, and with
// escapes a backslash escapes the next byte. It returns -1 when unclosed.
func endOfQuoted(s string, i int, quote byte, escapes bool) int {
	for i < len(s) {
		switch s[i] {
		case '\\':
			if escapes {
				i += 2
				continue
			}
		case quote:
			if i+1 < len(s) && s[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return -1
}

// endOfBlockComment returns the offset just past the */ closing a comment
// whose body starts at i; PostgreSQL's block comments nest. It returns -1
// when unclosed.
func endOfBlockComment(s string, i int) int {
	depth := 1
	for i+1 < len(s) {
		switch {
		case s[i] == '/' && s[i+1] == '*':
			depth++
			i += 2
		case s[i] == '*' && s[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return -1
}

// dollarTag returns the opening delimiter ($$ or $tag$) of a dollar-quoted
// string at s[i] == '$'. A tag is an identifier without $: $1 is a parameter,
// not a tag.
func dollarTag(s string, i int) (string, bool) {
	j := i + 1
	for j < len(s) && s[j] != '$' {
		c := s[j]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > i+1 && c >= '0' && c <= '9') {
			return "", false
		}
		j++
	}
	if j >= len(s) {
		return "", false
	}
	return s[i : j+1], true
}

// identChar reports whether c may continue an identifier (or a keyword, or
// a number): then a following $ or ' does not start a quoted text.
func identChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
