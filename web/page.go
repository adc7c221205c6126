package web

import "net/http"

// PageCSP is the policy of the server-rendered pages: they load nothing
// and run nothing (a page adds the hashes of its own inline style sheet
// and script), post forms only here and are never framed.
const PageCSP = "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// StartPage writes the status and headers of a server-rendered HTML page
// under the content security policy csp. No page sends a referrer: its
// URL may hold a secret (an invitation link) and the console's pages say
// who is signed in.
func StartPage(w http.ResponseWriter, status int, csp string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
}
