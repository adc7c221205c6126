package sqlstore

import "testing"

// TestNormalizeExpr: a default or predicate as SQLite keeps its text and
// as PostgreSQL prints it normalize alike; string literals are kept.
func TestNormalizeExpr(t *testing.T) {
	tests := []struct{ in, want string }{
		{`''::text`, `''`},
		{`'[]'::jsonb`, `'[]'`},
		{`TRUE`, `true`},
		{`0`, `0`},
		{`((status <> 'deleted'::text) AND (email_lower <> ''::text))`, `status <> 'deleted' and email_lower <> ''`},
		{`status <> 'deleted' AND email_lower <> ''`, `status <> 'deleted' and email_lower <> ''`},
		{`(expires_at IS NOT NULL)`, `expires_at is not null`},
		{`((name)::text = 'A (B)'::character varying)`, `name = 'A (B)'`},
		{`'It''s'::text`, `'It''s'`},
		{`'2026-01-01'::timestamp with time zone`, `'2026-01-01'`},
	}
	for _, tt := range tests {
		if got := normalizeExpr(tt.in); got != tt.want {
			t.Errorf("normalizeExpr(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
