package api

import (
	"net/http"
	"regexp"
	"strings"
)

// customMethodPattern matches a route whose last segment is a path
// parameter with a custom method after it, as in
// POST /v1/organizations/{org}/control-policies/{policy}:attach.
var customMethodPattern = regexp.MustCompile(`^(.*/\{(\w+)\}):(\w+)$`)

// customMethodMux routes the custom methods that follow a path parameter
// ({policy}:attach), which http.ServeMux cannot: a wildcard there must
// be a whole segment. It registers the route without the method once and
// dispatches on the text after the parameter's last colon, handing the
// handler the parameter without it; every other route goes to the
// ServeMux as it is. Routes are registered at start only.
type customMethodMux struct {
	*http.ServeMux
	// methods are the custom methods of each route without them.
	methods map[string]map[string]http.HandlerFunc
}

func newCustomMethodMux(mux *http.ServeMux) *customMethodMux {
	return &customMethodMux{ServeMux: mux, methods: map[string]map[string]http.HandlerFunc{}}
}

// HandleFunc implements humago.Mux.
func (m *customMethodMux) HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request)) {
	match := customMethodPattern.FindStringSubmatch(pattern)
	if match == nil {
		m.ServeMux.HandleFunc(pattern, handler)
		return
	}
	route, param, method := match[1], match[2], match[3]
	methods, ok := m.methods[route]
	if !ok {
		methods = map[string]http.HandlerFunc{}
		m.methods[route] = methods
		m.ServeMux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			value := r.PathValue(param)
			i := strings.LastIndexByte(value, ':')
			if i < 0 || methods[value[i+1:]] == nil {
				http.NotFound(w, r) // rendered as request.not_found by web.Plumbing
				return
			}
			r.SetPathValue(param, value[:i])
			methods[value[i+1:]](w, r)
		})
	}
	methods[method] = handler
}
