package supervisor

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/agentd/agentd/bundle"
	"github.com/agentd/agentd/supervisor/api"
)

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	var req api.SnapshotRequest
	if !decodeBody(w, r, &req) {
		return
	}
	s.copyOp(w, r, http.StatusCreated, func(progress func(bundle.CopyStats)) (any, error) {
		return s.sup.Snapshot(r.Context(), r.PathValue("id"), req.Name, progress)
	})
}

func (s *Server) listSnapshots(w http.ResponseWriter, r *http.Request) {
	out, err := s.sup.Snapshots(r.Context(), r.PathValue("id"))
	respond(w, out, err)
}

func (s *Server) removeSnapshot(w http.ResponseWriter, r *http.Request) {
	if err := s.sup.RemoveSnapshot(r.Context(), r.PathValue("id"), r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	var req api.SnapshotRequest
	if !decodeBody(w, r, &req) {
		return
	}
	s.copyOp(w, r, http.StatusOK, func(progress func(bundle.CopyStats)) (any, error) {
		return s.sup.Restore(r.Context(), r.PathValue("id"), req.Name, progress)
	})
}

func (s *Server) fork(w http.ResponseWriter, r *http.Request) {
	var req api.ForkRequest
	if !decodeBody(w, r, &req) {
		return
	}
	s.copyOp(w, r, http.StatusCreated, func(progress func(bundle.CopyStats)) (any, error) {
		return s.sup.Fork(r.Context(), r.PathValue("id"), req.Snapshot, req.Name, progress)
	})
}

// decodeBody strictly decodes the request body into v, answering the error
// itself; it reports whether to go on.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := api.DecodeJSON(r.Body, v); err != nil {
		writeError(w, err)
		return false
	}
	return true
}

// copyOp runs a long copy. A client that accepts application/x-ndjson gets
// progress lines as the copy goes and then the result or the error (as
// [CopyFrame]s, status 200); any other gets one JSON answer at the end.
func (s *Server) copyOp(w http.ResponseWriter, r *http.Request, status int, fn func(func(bundle.CopyStats)) (any, error)) {
	if !strings.Contains(r.Header.Get("Accept"), "application/x-ndjson") {
		v, err := fn(nil)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, status, v)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	var mu sync.Mutex // progress comes from copy workers
	send := func(f api.CopyFrame) {
		mu.Lock()
		defer mu.Unlock()
		if enc.Encode(f) == nil {
			_ = rc.Flush()
		}
	}
	v, err := fn(func(st bundle.CopyStats) { send(api.CopyFrame{Progress: &st}) })
	if err != nil {
		_, kind := api.Classify(err)
		send(api.CopyFrame{Error: &api.ErrorBody{Message: err.Error(), Kind: kind}})
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		send(api.CopyFrame{Error: &api.ErrorBody{Message: err.Error(), Kind: api.KindInternal}})
		return
	}
	send(api.CopyFrame{Result: data})
}
