package supervisor

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/agentd/agentd/supervisor/api"
)

// Server is the HTTP/JSON API over a Supervisor (docs/api.md).
type Server struct {
	sup  *Supervisor
	auth *PeerAuth // nil: no peer check (tests)
	log  *slog.Logger
	mux  *http.ServeMux
}

// NewServer returns the API handler. auth, when not nil, is checked on every
// request against the peer credentials stored by [PeerAuth.ConnContext].
func NewServer(sup *Supervisor, auth *PeerAuth, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{sup: sup, auth: auth, log: log, mux: http.NewServeMux()}
	routes := map[string]http.HandlerFunc{
		"GET /v1/version":                s.version,
		"GET /v1/probe":                  s.probe,
		"GET /v1/events":                 s.eventStream,
		"GET /v1/sandboxes":              s.list,
		"POST /v1/sandboxes":             s.create,
		"GET /v1/sandboxes/{id}":         s.inspect,
		"DELETE /v1/sandboxes/{id}":      s.remove,
		"POST /v1/sandboxes/{id}/pause":  s.pause,
		"POST /v1/sandboxes/{id}/resume": s.resume,
		"GET /v1/sandboxes/{id}/stats":   s.stats,
		"POST /v1/sandboxes/{id}/exec":   s.exec,

		"POST /v1/sandboxes/{id}/snapshots":          s.snapshot,
		"GET /v1/sandboxes/{id}/snapshots":           s.listSnapshots,
		"DELETE /v1/sandboxes/{id}/snapshots/{name}": s.removeSnapshot,
		"POST /v1/sandboxes/{id}/restore":            s.restore,
		"POST /v1/sandboxes/{id}/fork":               s.fork,
		"/":                                          s.notFound,
	}
	for pattern, h := range routes {
		s.mux.HandleFunc(pattern, h)
	}
	return s
}

// ServeHTTP checks the peer, bounds the body and recovers from panics, so
// no request can take the daemon down.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "path", r.URL.Path, "panic", v)
			writeError(w, fmt.Errorf("internal error: %v", v))
		}
	}()
	if s.auth != nil {
		if err := s.auth.Check(r.Context()); err != nil {
			writeError(w, err)
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, api.MaxRequestBytes)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, noEndpoint(fmt.Sprintf("not found: no endpoint %s %s (see docs/api.md)", r.Method, r.URL.Path)))
}

// noEndpoint is a request for a path the API does not have: a 404, but not
// a missing sandbox.
type noEndpoint string

func (e noEndpoint) Error() string        { return string(e) }
func (e noEndpoint) Is(target error) bool { return target == api.ErrNotExist }

func (s *Server) version(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.VersionInfo{API: api.APIVersion, Pid: os.Getpid(), Backends: s.sup.Backends()})
}

func (s *Server) probe(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.sup.Probe(r.Context()))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.sup.List())
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, err)
		return
	}
	req, err := api.DecodeCreateRequest(data)
	if err != nil {
		writeError(w, err)
		return
	}
	info, err := s.sup.Create(r.Context(), req)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, info)
}

func (s *Server) inspect(w http.ResponseWriter, r *http.Request) {
	info, err := s.sup.Inspect(r.PathValue("id"))
	respond(w, info, err)
}

func (s *Server) remove(w http.ResponseWriter, r *http.Request) {
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		var err error
		if force, err = strconv.ParseBool(v); err != nil {
			writeError(w, fmt.Errorf("%w: force=%q is not a boolean", api.ErrInvalidArgument, v))
			return
		}
	}
	if err := s.sup.Remove(r.Context(), r.PathValue("id"), force); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	info, err := s.sup.Pause(r.Context(), r.PathValue("id"))
	respond(w, info, err)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	info, err := s.sup.Resume(r.Context(), r.PathValue("id"))
	respond(w, info, err)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.sup.Stats(r.Context(), r.PathValue("id"))
	respond(w, st, err)
}

// eventStream sends every event as one JSON line until the client goes away.
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) {
	ch, stop := s.sup.Subscribe()
	defer stop()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case e, ok := <-ch:
			if !ok {
				_ = enc.Encode(api.Event{Type: api.EventOverflow, Time: time.Now().UTC(),
					Error: "event stream dropped: the client read too slowly"})
				return
			}
			if enc.Encode(e) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func respond(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status, kind := api.Classify(err)
	writeJSON(w, status, api.ErrorBody{Message: err.Error(), Kind: kind})
}
