// Command promcheck checks kfbridge's Prometheus alert rules the way
// `promtool check rules` does (it uses the same rule parser, from
// Prometheus's own module), checks every PromQL expression of a Grafana
// dashboard, and prints, one per line, each metric name with the label
// names its selectors use ("name label1,label2"), so a test can compare
// them with what a running bridge exports. It lives in its own module so
// that Prometheus's many dependencies stay out of kfbridge's go.mod.
//
//	go run -C tools/promcheck . --rules ../../deploy/prometheus/alerts.yml --dashboard ../../deploy/grafana/kfbridge.json
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

func main() {
	rules := flag.String("rules", "", "Prometheus rule file to check")
	dashboard := flag.String("dashboard", "", "Grafana dashboard JSON whose targets' expr to check")
	flag.Parse()
	if err := run(os.Stdout, *rules, *dashboard); err != nil {
		fmt.Fprintln(os.Stderr, "promcheck:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, rulesFile, dashboardFile string) error {
	p := parser.NewParser(parser.Options{})
	var exprs []string
	if rulesFile != "" {
		groups, errs := rulefmt.ParseFile(rulesFile, false, model.UTF8Validation, p, slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			return fmt.Errorf("%s: %w", rulesFile, errors.Join(errs...))
		}
		n := 0
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				exprs = append(exprs, r.Expr)
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("%s: no rules", rulesFile)
		}
	}
	if dashboardFile != "" {
		de, err := dashboardExprs(dashboardFile)
		if err != nil {
			return err
		}
		exprs = append(exprs, de...)
	}
	used := map[string]map[string]bool{}
	for _, e := range exprs {
		expr, err := p.ParseExpr(expandVars(e))
		if err != nil {
			return fmt.Errorf("expression %q: %w", e, err)
		}
		for _, sel := range parser.ExtractSelectors(expr) {
			name := ""
			var names []string
			for _, m := range sel {
				if m.Name == labels.MetricName {
					if m.Type != labels.MatchEqual {
						return fmt.Errorf("expression %q: metric names must be exact", e)
					}
					name = m.Value
					continue
				}
				names = append(names, m.Name)
			}
			if name == "" {
				return fmt.Errorf("expression %q: a selector without a metric name", e)
			}
			if used[name] == nil {
				used[name] = map[string]bool{}
			}
			for _, n := range names {
				used[name][n] = true
			}
		}
		// Labels the expression groups by must exist too.
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if agg, ok := node.(*parser.AggregateExpr); ok && !agg.Without {
				for _, vs := range vectorSelectors(agg.Expr) {
					for _, l := range agg.Grouping {
						used[vs][l] = true
					}
				}
			}
			return nil
		})
	}
	var lines []string
	for name, ls := range used {
		var l []string
		for n := range ls {
			l = append(l, n)
		}
		sort.Strings(l)
		lines = append(lines, strings.TrimSpace(name+" "+strings.Join(l, ",")))
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return nil
}

// vectorSelectors returns the metric names selected under node.
func vectorSelectors(node parser.Node) []string {
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// expandVars replaces Grafana's variables with values PromQL parses.
func expandVars(e string) string {
	return strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
		"${appid}", "wx", "$appid", "wx").Replace(e)
}

// dashboardExprs returns the expr of every panel target (rows included).
func dashboardExprs(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var d struct {
		Title  string            `json:"title"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var exprs []string
	var walk func([]json.RawMessage) error
	walk = func(ps []json.RawMessage) error {
		for _, raw := range ps {
			var p panel
			if err := json.Unmarshal(raw, &p); err != nil {
				return fmt.Errorf("%s: panel: %w", file, err)
			}
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					return fmt.Errorf("%s: panel %q has a target without expr", file, p.Title)
				}
				exprs = append(exprs, t.Expr)
			}
			if err := walk(p.Panels); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(d.Panels); err != nil {
		return nil, err
	}
	if len(exprs) == 0 {
		return nil, fmt.Errorf("%s: no panel targets", file)
	}
	slog.Debug("dashboard", "title", d.Title, "exprs", len(exprs))
	return exprs, nil
}
