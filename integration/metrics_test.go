package integration

import (
	"context"
	"strconv"
	"strings"
)

// metrics is a scrape of a /metrics endpoint (Prometheus text format).
type metrics string

// scrape GETs base+"/metrics".
func scrape(ctx context.Context, base string) (metrics, error) {
	b, err := getBody(ctx, base+"/metrics")
	return metrics(b), err
}

// sum adds up the samples of the metric name whose labels include every
// `key="value"` pair of labels.
func (m metrics) sum(name string, labels ...string) float64 {
	var total float64
	for line := range strings.Lines(string(m)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		series, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		metric, labelSet, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(labelSet, l) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		if v, err := strconv.ParseFloat(strings.Fields(value)[0], 64); err == nil {
			total += v
		}
	}
	return total
}
