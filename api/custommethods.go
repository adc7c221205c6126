package api

import (
	"net/http"
	"regexp"
	"strings"
)

// customMethods is the mux the API registers on: http.ServeMux, plus
// routes whose last segment is a path parameter followed by a custom
// method ("/control-policies/{policy}:simulate", as AIP-136 names them),
// which http.ServeMux cannot match since a wildcard fills a whole
// segment. Such routes share one ServeMux route per method and base
// ("POST …/control-policies/{policy}"), which splits the segment at its
// last ':' and hands the request, with the parameter set to what comes
// before, to the custom method's handler; any other segment is the mux's
// ordinary 404.
type customMethods struct {
	*http.ServeMux
	// handlers are the custom methods' handlers by base pattern, then
	// method name (":simulate").
	handlers map[string]map[string]http.HandlerFunc
}

// customMethodPattern splits a pattern ending in "/{param}:verb".
var customMethodPattern = regexp.MustCompile(`^(.*/\{([A-Za-z]+)\})(:[A-Za-z]+)$`)

func (m *customMethods) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	match := customMethodPattern.FindStringSubmatch(pattern)
	if match == nil {
		m.ServeMux.HandleFunc(pattern, handler)
		return
	}
	base, param, verb := match[1], match[2], match[3]
	verbs, ok := m.handlers[base]
	if !ok {
		verbs = map[string]http.HandlerFunc{}
		m.handlers[base] = verbs
		m.ServeMux.HandleFunc(base, func(w http.ResponseWriter, r *http.Request) {
			segment := r.PathValue(param)
			i := strings.LastIndexByte(segment, ':')
			if i < 0 || verbs[segment[i:]] == nil {
				http.NotFound(w, r)
				return
			}
			r.SetPathValue(param, segment[:i])
			verbs[segment[i:]](w, r)
		})
	}
	verbs[verb] = handler
}
