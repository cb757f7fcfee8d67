package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sandrun/sandrun"
)

// metrics live in the server's own registry (no global state), so two
// servers in one process (tests) do not collide.
type metrics struct {
	reg        *prometheus.Registry
	runs       *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	queue      prometheus.Gauge
	detections *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	requests   *prometheus.CounterVec

	mu      sync.Mutex
	typical time.Duration // moving average of run duration, for Retry-After
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sandrun_runs_total", Help: "Finished runs by backend and status.",
		}, []string{"backend", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sandrun_run_duration_seconds",
			Help:    "Run duration as the server saw it (admission to result), by backend.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"backend"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sandrun_runs_in_flight", Help: "Runs executing now.",
		}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sandrun_queue_depth", Help: "Runs waiting for a free slot.",
		}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sandrun_sanitizer_detections_total", Help: "Secrets the sanitizer redacted, by rule.",
		}, []string{"rule"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sandrun_admission_rejected_total",
			Help: "Requests refused before running: queue_full, queue_memory, queue_timeout, rate_limited, unauthorized, draining.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sandrun_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(m.runs, m.duration, m.inFlight, m.queue, m.detections, m.rejected, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"queue_full", "queue_memory", "queue_timeout", "rate_limited", "unauthorized", "draining"} {
		m.rejected.WithLabelValues(r)
	}
	return m
}

// watchAudit exports the audit log's failed writes.
func (m *metrics) watchAudit(errs func() int64) {
	_ = m.reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "sandrun_audit_errors_total",
		Help: "Audit records that could not be written (store failing, hung, or its file replaced).",
	}, func() float64 { return float64(errs()) }))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *metrics) setQueue(running, waiting int) {
	m.inFlight.Set(float64(running))
	m.queue.Set(float64(waiting))
}

// observe records a finished run.
func (m *metrics) observe(res *sandrun.Result, d time.Duration) {
	backend := res.Backend
	if backend == "" {
		backend = "none"
	}
	m.runs.WithLabelValues(backend, string(res.Status)).Inc()
	m.duration.WithLabelValues(backend).Observe(d.Seconds())
	for _, det := range res.Detections {
		m.detections.WithLabelValues(det.Rule).Add(float64(det.Count))
	}
	m.mu.Lock()
	if m.typical == 0 {
		m.typical = d
	} else {
		m.typical = (m.typical*7 + d) / 8
	}
	m.mu.Unlock()
}

func (m *metrics) typicalRun() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.typical
}

// logState is filled in as a request passes through the layers, for the
// access log line.
type logState struct {
	mu     sync.Mutex
	caller string
	runID  string
}

type logStateKey struct{}

func setLogCaller(ctx context.Context, caller string) {
	if st, ok := ctx.Value(logStateKey{}).(*logState); ok {
		st.mu.Lock()
		st.caller = caller
		st.mu.Unlock()
	}
}

func setLogRun(ctx context.Context, id string) {
	if st, ok := ctx.Value(logStateKey{}).(*logState); ok {
		st.mu.Lock()
		st.runID = id
		st.mu.Unlock()
	}
}

// statusWriter remembers the status code. It passes Flush through for
// streaming.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog writes one line per request: method, path, route, status,
// size, duration, caller name and run id. Never the body, the query
// string or headers (they may hold code or tokens).
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &logState{}
		r = r.WithContext(context.WithValue(r.Context(), logStateKey{}, st))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		st.mu.Lock()
		caller, run := st.caller, st.runID
		st.mu.Unlock()
		s.log.Info("http", "method", r.Method, "path", r.URL.Path, "route", route, "status", sw.code,
			"bytes", sw.bytes, "ms", time.Since(start).Milliseconds(), "caller", caller, "run", run,
			"remote", r.RemoteAddr)
	})
}
