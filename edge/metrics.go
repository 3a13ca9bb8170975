package edge

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the edge's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec // by cache outcome and status code
	sentBytes      prometheus.Counter
	originRequests *prometheus.CounterVec // by origin status code
	originBytes    prometheus.Counter
	cacheBytes     prometheus.Gauge
	cacheObjects   prometheus.Gauge
	evictions      prometheus.Counter
	fills          prometheus.Gauge
	fillErrors     prometheus.Counter
	connections    prometheus.Gauge
	largestRecord  prometheus.Gauge
	duration       prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edge_requests_total", Help: "Device requests answered, by cache outcome (hit, revalidated, miss, refused, error, invalid) and status code.",
		}, []string{"cache", "code"}),
		sentBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edge_response_body_bytes_total", Help: "Body bytes sent to devices.",
		}),
		originRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "edge_origin_requests_total", Help: "Requests to the origin, by status code (\"error\" when none came).",
		}, []string{"code"}),
		originBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edge_origin_body_bytes_total", Help: "Body bytes of complete fills from the origin.",
		}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edge_cache_bytes", Help: "Bytes on disk held by complete objects, plus what fills in progress reserve.",
		}),
		cacheObjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edge_cache_objects", Help: "Complete objects in the cache.",
		}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edge_cache_evictions_total", Help: "Objects evicted to stay within the cache's size.",
		}),
		fills: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edge_fills_in_progress", Help: "Objects being fetched from the origin.",
		}),
		fillErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "edge_fill_errors_total", Help: "Fills that failed (cut, stalled or oversized origin bodies, disk errors).",
		}),
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edge_connections", Help: "Device connections open.",
		}),
		largestRecord: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "edge_largest_record_sent_bytes", Help: "Largest TLS record (length field) sent to any device since start, handshake records included.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "edge_request_duration_seconds", Help: "Time from a device request's headers to the end of its response.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	m.reg.MustRegister(m.requests, m.sentBytes, m.originRequests, m.originBytes, m.cacheBytes, m.cacheObjects,
		m.evictions, m.fills, m.fillErrors, m.connections, m.largestRecord, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) origin(code int) {
	m.originRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}
