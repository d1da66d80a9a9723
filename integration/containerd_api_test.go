//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/encoding/protowire"
)

// containerdAPI makes the few task calls that containerd 1.6's ctr has no
// command for (Tasks.Update, and Tasks.Create without Start), straight over
// containerd's gRPC socket: HTTP/2 without TLS, hand-encoded protobuf. The
// shim handles them exactly as it handles the calls of the CRI plugin, so
// what agentd receives is what a Kubernetes node sends it.
type containerdAPI struct {
	client    *http.Client
	namespace string
}

func newContainerdAPI(socket, namespace string) *containerdAPI {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true) // gRPC's h2c "prior knowledge"
	tr := &http.Transport{
		Protocols: &protos,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}
	return &containerdAPI{client: &http.Client{Transport: tr, Timeout: time.Minute}, namespace: namespace}
}

func (a *containerdAPI) close() { a.client.CloseIdleConnections() }

// call makes one unary gRPC call and returns the gRPC error, if any.
func (a *containerdAPI) call(method string, msg []byte) error {
	frame := make([]byte, 5, 5+len(msg)) // uncompressed flag, big-endian length
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	frame = append(frame, msg...)
	req, err := http.NewRequest(http.MethodPost, "http://containerd/containerd.services.tasks.v1.Tasks/"+method, bytes.NewReader(frame))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("containerd-namespace", a.namespace)
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("Tasks/%s: %w", method, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("Tasks/%s: %w", method, err)
	}
	status, message := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if status == "" { // a "trailers-only" answer carries them as headers
		status, message = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	if status != "0" {
		if m, err := url.PathUnescape(message); err == nil {
			message = m
		}
		return fmt.Errorf("Tasks/%s: grpc status %s (HTTP %d): %s", method, status, resp.StatusCode, message)
	}
	return nil
}

// updateResources is Tasks.Update, which the shim turns into
// `<runtime> update --resources - ID` with the resources on stdin.
func (a *containerdAPI) updateResources(id string, res *specs.LinuxResources) error {
	data, err := json.Marshal(res)
	if err != nil {
		return err
	}
	// UpdateTaskRequest{container_id: 1, resources: 2 (Any)}; containerd
	// carries runtime-spec types in an Any as JSON under this type URL.
	anyMsg := protoString(nil, 1, "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources")
	anyMsg = protoBytes(anyMsg, 2, data)
	msg := protoString(nil, 1, id)
	msg = protoBytes(msg, 2, anyMsg)
	return a.call("Update", msg)
}

// createTask is Tasks.Create without Start: the shim runs `<runtime>
// create`, and the task stays "created". binary and root are the runc
// options ctr's --runc-binary and --runc-root would set.
func (a *containerdAPI) createTask(id, binary, root string) error {
	// containerd.runc.v1.Options{binary_name: 6, root: 7}
	opts := protoString(nil, 6, binary)
	opts = protoString(opts, 7, root)
	anyMsg := protoString(nil, 1, "containerd.runc.v1.Options")
	anyMsg = protoBytes(anyMsg, 2, opts)
	// CreateTaskRequest{container_id: 1, options: 9}; no stdio is null IO.
	msg := protoString(nil, 1, id)
	msg = protoBytes(msg, 9, anyMsg)
	return a.call("Create", msg)
}

// deleteTask is Tasks.Delete: for a created task the shim runs `<runtime>
// delete ID`, without --force, as CRI's RemoveContainer does for a
// container that never started.
func (a *containerdAPI) deleteTask(id string) error {
	return a.call("Delete", protoString(nil, 1, id))
}

func protoString(b []byte, field protowire.Number, s string) []byte {
	return protoBytes(b, field, []byte(s))
}

func protoBytes(b []byte, field protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}
