package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

// Snapshot copies sandbox ref's file system to snapshot name. progress, if
// not nil, is called as the copy goes.
func (c *Client) Snapshot(ctx context.Context, ref, name string, progress func(bundle.CopyStats)) (*api.SnapshotResult, error) {
	var out api.SnapshotResult
	return &out, c.copyCall(ctx, sandboxPath(ref, "snapshots"), api.SnapshotRequest{Name: name}, progress, &out)
}

// Snapshots lists sandbox ref's snapshots, oldest first.
func (c *Client) Snapshots(ctx context.Context, ref string) ([]bundle.SnapshotInfo, error) {
	var out []bundle.SnapshotInfo
	return out, c.do(ctx, http.MethodGet, sandboxPath(ref, "snapshots"), nil, &out)
}

// RemoveSnapshot deletes snapshot name of sandbox ref.
func (c *Client) RemoveSnapshot(ctx context.Context, ref, name string) error {
	return c.do(ctx, http.MethodDelete, sandboxPath(ref, "snapshots", url.PathEscape(name)), nil, nil)
}

// Restore puts sandbox ref back as it was at snapshot name.
func (c *Client) Restore(ctx context.Context, ref, name string, progress func(bundle.CopyStats)) (*api.CopyResult, error) {
	var out api.CopyResult
	return &out, c.copyCall(ctx, sandboxPath(ref, "restore"), api.SnapshotRequest{Name: name}, progress, &out)
}

// Fork starts a new sandbox from sandbox ref's snapshot (or its live file
// system when snapshot is empty).
func (c *Client) Fork(ctx context.Context, ref string, req api.ForkRequest, progress func(bundle.CopyStats)) (*api.CopyResult, error) {
	var out api.CopyResult
	return &out, c.copyCall(ctx, sandboxPath(ref, "fork"), req, progress, &out)
}

// copyCall POSTs body to path; with progress it asks for the NDJSON form
// and reports each progress line before decoding the result into out.
func (c *Client) copyCall(ctx context.Context, path string, body any, progress func(bundle.CopyStats), out any) error {
	if progress == nil {
		return c.do(ctx, http.MethodPost, path, body, out)
	}
	resp, err := c.send(ctx, http.MethodPost, path, body, http.Header{"Accept": {"application/x-ndjson"}})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var f api.CopyFrame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return fmt.Errorf("decoding the daemon's answer to %s: %w", path, err)
		}
		switch {
		case f.Progress != nil:
			progress(*f.Progress)
		case f.Error != nil:
			return &Error{Status: http.StatusOK, Kind: f.Error.Kind, Message: f.Error.Message}
		case f.Result != nil:
			return json.Unmarshal(f.Result, out)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("the daemon's answer to %s ended without a result", path)
}
