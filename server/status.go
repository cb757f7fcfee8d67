package server

import (
	"net/http"
	"time"

	"github.com/sandrun/sandrun"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// GET /v1/status: what the server is doing, as JSON (the web console's
// health view): runs by status since the start, runs in flight and
// queued, admission refusals by reason, and the audit log's write
// failures. /metrics has the same counters for Prometheus; /readyz says
// whether the server takes runs.

// AuditHealth is what the server reports of the audit log
// (*audit.Log implements it).
type AuditHealth interface {
	// Errors counts failed writes since the start.
	Errors() int64
	// LastError is the most recent failure (zero time and nil when none).
	LastError() (time.Time, error)
}

// StatusBody answers GET /v1/status.
type StatusBody struct {
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	Draining  bool      `json:"draining"`
	// Runs counts finished runs by status since the start.
	Runs     map[string]int64 `json:"runs"`
	InFlight int64            `json:"in_flight"`
	Queued   int64            `json:"queued"`
	// MaxConcurrent and MaxQueue are the admission limits.
	MaxConcurrent int `json:"max_concurrent"`
	MaxQueue      int `json:"max_queue"`
	// Rejected counts requests refused before running, by reason.
	Rejected map[string]int64 `json:"rejected"`
	// Audit is the audit log's health; absent without an audit log.
	Audit *AuditStatus `json:"audit,omitempty"`
	// Warm is the warm path per language (the jail's zygotes, the pool's
	// prestarted interpreters): ready now, runs served warm, runs that
	// ran cold and why. Absent when nothing is kept warm.
	Warm map[string]sandrun.WarmStatus `json:"warm,omitempty"`
}

// AuditStatus is the audit log's write health.
type AuditStatus struct {
	Errors        int64      `json:"errors"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorTime *time.Time `json:"last_error_time,omitempty"`
}

func (s *Server) getStatus(w http.ResponseWriter, _ *http.Request) {
	ao := s.adm.Options()
	body := StatusBody{
		Version: s.opts.Version, StartedAt: s.started, Draining: s.adm.Draining(),
		Runs:          sumBy(s.metrics.runs, "status"),
		InFlight:      int64(gaugeValue(s.metrics.inFlight)),
		Queued:        int64(gaugeValue(s.metrics.queue)),
		MaxConcurrent: ao.MaxConcurrent, MaxQueue: ao.MaxQueue,
		Rejected: sumBy(s.metrics.rejected, "reason"),
	}
	if a := s.opts.Audit; a != nil {
		st := &AuditStatus{Errors: a.Errors()}
		if at, err := a.LastError(); err != nil {
			st.LastError = err.Error()
			at = at.UTC()
			st.LastErrorTime = &at
		}
		body.Audit = st
	}
	if s.opts.Sandbox != nil {
		body.Warm = s.opts.Sandbox.WarmStatus()
	}
	writeJSON(w, http.StatusOK, body)
}

// sumBy adds a counter vector's series up by one label.
func sumBy(c prometheus.Collector, label string) map[string]int64 {
	out := map[string]int64{}
	for _, m := range collect(c) {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] += int64(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

func gaugeValue(g prometheus.Gauge) float64 {
	ms := collect(g)
	if len(ms) == 0 {
		return 0
	}
	return ms[0].GetGauge().GetValue()
}

func collect(c prometheus.Collector) []*dto.Metric {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	var out []*dto.Metric
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil {
			out = append(out, &d)
		}
	}
	return out
}
