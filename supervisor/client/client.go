// Package client is the Go client of the agentd supervisor's HTTP/JSON API
// on its unix socket (docs/api.md). The sandbox CLI uses it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/agentd/agentd/supervisor/api"
)

// DefaultSocket is where the daemon listens unless told otherwise.
const DefaultSocket = "/run/agentd/agentd.sock"

// Client talks to one daemon socket. Its methods are safe for concurrent
// use.
type Client struct {
	socket string
	http   *http.Client
}

// New returns a client of the daemon listening on socket.
func New(socket string) *Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	return &Client{
		socket: socket,
		http:   &http.Client{Transport: &http.Transport{DialContext: dial, DisableCompression: true}},
	}
}

// Socket is the socket path the client uses.
func (c *Client) Socket() string { return c.socket }

// Error is an error answer of the daemon. It matches the sentinel
// errors of package api with errors.Is (ErrNotExist for 404, and so on).
type Error struct {
	Status  int
	Kind    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is matches the sentinel error of e's kind ([api.ErrorOfKind]).
func (e *Error) Is(target error) bool {
	s := api.ErrorOfKind(e.Kind)
	return s != nil && s == target
}

// ErrUnreachable wraps failures to reach the daemon at all (no socket,
// nobody listening); EnsureDaemon starts one then.
var ErrUnreachable = errors.New("agentd daemon not reachable")

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the daemon's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a successful response; an error answer
// becomes an *Error.
func (c *Client) send(ctx context.Context, method, path string, body any, hdr http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://agentd"+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, c.socket, err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb api.ErrorBody
	if json.Unmarshal(data, &eb) != nil || eb.Message == "" {
		eb.Message = fmt.Sprintf("daemon answered %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	return &Error{Status: resp.StatusCode, Kind: eb.Kind, Message: eb.Message}
}

func sandboxPath(ref string, parts ...string) string {
	p := "/" + api.APIVersion + "/sandboxes/" + url.PathEscape(ref)
	for _, s := range parts {
		p += "/" + s
	}
	return p
}

// Version asks the daemon who it is; it is the cheapest call, used to see
// whether a daemon answers.
func (c *Client) Version(ctx context.Context) (*api.VersionInfo, error) {
	var v api.VersionInfo
	return &v, c.do(ctx, http.MethodGet, "/v1/version", nil, &v)
}

// Probe reports what each backend enforces on the daemon's host.
func (c *Client) Probe(ctx context.Context) ([]api.Capabilities, error) {
	var caps []api.Capabilities
	return caps, c.do(ctx, http.MethodGet, "/v1/probe", nil, &caps)
}

// Create creates a sandbox.
func (c *Client) Create(ctx context.Context, req *api.CreateRequest) (*api.SandboxInfo, error) {
	var info api.SandboxInfo
	return &info, c.do(ctx, http.MethodPost, "/v1/sandboxes", req, &info)
}

// List lists the sandboxes.
func (c *Client) List(ctx context.Context) ([]api.SandboxInfo, error) {
	var out []api.SandboxInfo
	return out, c.do(ctx, http.MethodGet, "/v1/sandboxes", nil, &out)
}

// Inspect describes a sandbox, by id or name.
func (c *Client) Inspect(ctx context.Context, ref string) (*api.SandboxInfo, error) {
	var info api.SandboxInfo
	return &info, c.do(ctx, http.MethodGet, sandboxPath(ref), nil, &info)
}

// Remove destroys a sandbox; force kills its running commands first.
func (c *Client) Remove(ctx context.Context, ref string, force bool) error {
	return c.do(ctx, http.MethodDelete, sandboxPath(ref)+"?force="+strconv.FormatBool(force), nil, nil)
}

// Pause freezes a sandbox.
func (c *Client) Pause(ctx context.Context, ref string) (*api.SandboxInfo, error) {
	var info api.SandboxInfo
	return &info, c.do(ctx, http.MethodPost, sandboxPath(ref, "pause"), nil, &info)
}

// Resume thaws a sandbox.
func (c *Client) Resume(ctx context.Context, ref string) (*api.SandboxInfo, error) {
	var info api.SandboxInfo
	return &info, c.do(ctx, http.MethodPost, sandboxPath(ref, "resume"), nil, &info)
}

// Stats reads a sandbox's resource usage.
func (c *Client) Stats(ctx context.Context, ref string) (*api.StatsResponse, error) {
	var st api.StatsResponse
	return &st, c.do(ctx, http.MethodGet, sandboxPath(ref, "stats"), nil, &st)
}

// Events calls fn for every event until ctx ends, fn returns an error, or
// the daemon ends the stream.
func (c *Client) Events(ctx context.Context, fn func(api.Event) error) error {
	st, err := c.Subscribe(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	for {
		e, err := st.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// EventStream is an open event stream ([Client.Subscribe]).
type EventStream struct {
	ctx  context.Context
	body io.Closer
	dec  *json.Decoder
}

// Subscribe opens the event stream. It returns once the daemon has
// subscribed: every event from then on arrives on the stream.
func (c *Client) Subscribe(ctx context.Context) (*EventStream, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", nil, nil)
	if err != nil {
		return nil, err
	}
	return &EventStream{ctx: ctx, body: resp.Body, dec: json.NewDecoder(resp.Body)}, nil
}

// Next returns the next event; io.EOF when the daemon ended the stream, an
// error when it dropped this reader for reading too slowly (an overflow
// event) or ctx ended.
func (s *EventStream) Next() (api.Event, error) {
	var e api.Event
	if err := s.dec.Decode(&e); err != nil {
		if s.ctx.Err() != nil {
			return e, s.ctx.Err()
		}
		if errors.Is(err, io.EOF) {
			return e, io.EOF
		}
		return e, fmt.Errorf("reading events: %w", err)
	}
	if e.Type == api.EventOverflow {
		return e, fmt.Errorf("reading events: %s", e.Error)
	}
	return e, nil
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }
