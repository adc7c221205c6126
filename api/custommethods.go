package api

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// customMethods is the API's huma adapter: humago's on the server's mux,
// plus custom methods after a path parameter (AIP-136,
// "/accounts/{account}:move"), which net/http's patterns cannot express
// since a wildcard fills its whole segment. The custom methods of one
// route share one pattern on the mux ("POST …/accounts/{account}") that
// takes the verb after the last colon of the parameter's segment and
// serves the request, with the verb cut off its path, to that method's
// operation. A segment without a known verb is no route: it gets the
// mux's "not found", which the plumbing answers as every unknown route.
type customMethods struct {
	huma.Adapter
	mux *http.ServeMux
	// verbs are, per pattern on mux, the handler of each verb, each on
	// a mux of its own where the operation's path has no verb.
	verbs map[string]map[string]http.Handler
}

func newCustomMethods(mux *http.ServeMux) *customMethods {
	return &customMethods{Adapter: humago.NewAdapter(mux, ""), mux: mux, verbs: map[string]map[string]http.Handler{}}
}

// customMethodPath splits "<route>/{param}:verb" into route with its
// parameter and the verb.
var customMethodPath = regexp.MustCompile(`^(.*/\{([A-Za-z]+)\}):([A-Za-z]+)$`)

// Handle implements huma.Adapter.
func (a *customMethods) Handle(op *huma.Operation, handler func(huma.Context)) {
	m := customMethodPath.FindStringSubmatch(op.Path)
	if m == nil {
		a.Adapter.Handle(op, handler)
		return
	}
	route, param, verb := m[1], m[2], m[3]
	own := http.NewServeMux()
	plain := *op
	plain.Path = route
	humago.NewAdapter(own, "").Handle(&plain, handler)
	pattern := strings.ToUpper(op.Method) + " " + route
	if a.verbs[pattern] == nil {
		verbs := map[string]http.Handler{}
		a.verbs[pattern] = verbs
		a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			segment := r.PathValue(param)
			i := strings.LastIndex(segment, ":")
			h := verbs[segment[i+1:]]
			if i < 0 || h == nil {
				http.NotFound(w, r)
				return
			}
			plain := *r
			u := *r.URL
			u.Path, u.RawPath = strings.TrimSuffix(u.Path, segment[i:]), ""
			plain.URL = &u
			h.ServeHTTP(w, &plain)
		})
	}
	a.verbs[pattern][verb] = own
}
