package loadkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Client calls the JSON API of a service under load.
type Client struct {
	Base string // "http://127.0.0.1:18084"
	HTTP *http.Client
}

// StatusError is an answer of 300 or more.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// maxAnswer bounds an answer read; the load tools' answers are pages of
// at most a hundred items.
const maxAnswer = 16 << 20

// Do sends body (when not nil) as JSON with the bearer token and decodes a
// successful answer into out (when not nil); headers are name, value
// pairs. It returns the answer's headers, and a *StatusError for an answer
// of 300 or more.
func (c *Client) Do(ctx context.Context, method, path, token string, body, out any, headers ...string) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return res.Header, fmt.Errorf("read %s: %w", path, err)
	}
	if res.StatusCode >= 300 {
		return res.Header, &StatusError{Method: method, Path: path, Status: res.StatusCode, Body: string(raw)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.Header, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return res.Header, nil
}
