package mail_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/mail"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// sampleData is the data of each template's golden mail.

var sampleData = map[castellan.MailTemplate]map[string]string{
	castellan.MailInvitation:    {"name": "Alice Liddell", "organizationName": "Acme", "invitationToken": "csti_abc", "expiresAt": "2026-03-11T05:06:07Z", "invitedBy": "Bob"},
	castellan.MailReinvite:      {"name": "Alice Liddell", "organizationName": "Acme", "invitationToken": "csti_def", "expiresAt": "2026-03-11T05:06:07Z"},
	castellan.MailPasswordReset: {"name": "Alice Liddell", "organizationName": "Acme", "resetToken": "cstr_ghi", "expiresAt": "2026-03-05T05:06:07Z"},
	castellan.MailUserDeleted:   {"name": "Alice Liddell", "organizationName": "Acme", "loginId": "alice@example.com", "deletedAt": "2026-03-04T05:06:07Z"},
	castellan.MailGroupChanged:  {"name": "Alice Liddell", "organizationName": "Acme", "groupName": "developers", "change": "added"},
	castellan.MailAccountNotice: {"name": "Alice Liddell", "organizationName": "Acme", "subject": "Scheduled maintenance", "message": "Castellan will be down on Sunday.\n\nSign-ins fail meanwhile."},
	castellan.MailAccountExcluded: {"name": "Alice Liddell", "organizationName": "Acme", "accountName": "sales-prod", "accountId": "0190a1b2-c3d4",
		"newOrganizationName": "sales-prod"},
	castellan.MailAccountInvitation: {"organizationName": "Acme", "email": "root@globex.example"},
	castellan.MailAccountDeleted:    {"name": "Alice Liddell", "organizationName": "Acme", "accountName": "sales-prod", "accountId": "0190d3a8-0000-7000-8000-00000000a001", "deletedAt": "2026-03-04T05:06:07Z"},
	castellan.MailFederatedWelcome:  {"name": "Alice Liddell", "organizationName": "Acme", "loginId": "alice@acme.example", "federationId": "0190d3a8-0000-7000-8000-00000000f001"},
}

func mustTemplates(t *testing.T) *mail.Templates {
	t.Helper()
	templates, err := mail.NewTemplates(publicURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	return templates
}

// TestTemplatesGolden renders every template with sample data and compares

// subject, text and HTML with testdata/<template>.golden (-update rewrites

// them).

func TestTemplatesGolden(t *testing.T) {
	templates := mustTemplates(t)
	for _, name := range castellan.MailTemplates {
		t.Run(string(name), func(t *testing.T) {
			data, ok := sampleData[name]
			if !ok {
				t.Fatalf("no sample data for template %s", name)
			}
			r, err := templates.RenderMail(&castellan.Mail{ID: "m1", Template: name, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject == "" || strings.Contains(r.Subject, "\n") || strings.TrimSpace(r.Text) == "" || !strings.Contains(r.HTML, "</html>") {
				t.Fatalf("got %+v", r)
			}
			got := "Subject: " + r.Subject + "\n\n" + r.Text + "\n---- HTML ----\n" + r.HTML
			path := filepath.Join("testdata", string(name)+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./mail -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the rendering (go test ./mail -update after checking):\n%s", path, got)
			}
		})
	}
}

func TestTemplatesLinks(t *testing.T) {
	templates := mustTemplates(t)
	for _, tc := range []struct {
		template castellan.MailTemplate
		data     map[string]string
		link     string
	}{
		{castellan.MailInvitation, map[string]string{"invitationToken": "csti_a&b"}, publicURL + "/invitations/accept?token=csti_a%26b"},
		{castellan.MailReinvite, map[string]string{"invitationToken": "csti_c"}, publicURL + "/invitations/accept?token=csti_c"},
		{castellan.MailPasswordReset, map[string]string{"resetToken": "cstr_d"}, publicURL + "/password-reset?token=cstr_d"},
		{castellan.MailFederatedWelcome, map[string]string{"federationId": "f1"}, publicURL + "/console/sign-in"},
		// A link given wins over a token.
		{castellan.MailInvitation, map[string]string{"invitationToken": "csti_e", "link": "https://console.example/join?t=1"}, "https://console.example/join?t=1"},
	} {
		r, err := templates.RenderMail(&castellan.Mail{Template: tc.template, Data: tc.data})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Text, "\n"+tc.link+"\n") {
			t.Errorf("%s: text lacks %s:\n%s", tc.template, tc.link, r.Text)
		}
		if href := `href="` + strings.ReplaceAll(tc.link, "&", "&amp;") + `"`; !strings.Contains(r.HTML, href) {
			t.Errorf("%s: HTML lacks %s:\n%s", tc.template, href, r.HTML)
		}
	}
}

func TestTemplatesEscape(t *testing.T) {
	r, err := mustTemplates(t).RenderMail(&castellan.Mail{Template: castellan.MailGroupChanged, Data: map[string]string{
		"name": "<script>alert(1)</script>", "groupName": `"><img src=x>`, "change": "removed",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<script>") || strings.Contains(r.HTML, "<img") {
		t.Fatalf("HTML is not escaped:\n%s", r.HTML)
	}
	if !strings.Contains(r.Text, "<script>alert(1)</script>") || r.Subject != `You were removed from the group "><img src=x>` {
		t.Fatalf("text is escaped: %q\n%s", r.Subject, r.Text)
	}
	// A javascript: link is not made clickable.
	r, err = mustTemplates(t).RenderMail(&castellan.Mail{Template: castellan.MailInvitation, Data: map[string]string{"link": "javascript:alert(1)"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, `href="javascript:`) {
		t.Fatalf("HTML links to javascript:\n%s", r.HTML)
	}
}

func TestTemplatesErrUnrenderable(t *testing.T) {
	templates := mustTemplates(t)
	for _, m := range []*castellan.Mail{
		{Template: "no_such_template"},
		{Template: castellan.MailInvitation, Data: map[string]string{"name": "Alice"}},
		{Template: castellan.MailPasswordReset},
		{Template: castellan.MailGroupChanged, Data: map[string]string{"groupName": "g"}},
		{Template: castellan.MailAccountNotice, Data: map[string]string{"subject": "s"}},
		{Template: castellan.MailFederatedWelcome, Data: map[string]string{"name": "Alice"}},
	} {
		_, err := templates.RenderMail(m)
		if castellan.ErrorCode(err) != castellan.CodeMailUnrenderable || castellan.ErrorKind(err) != castellan.EINVALID {
			t.Errorf("%s %v: got %v, want %s", m.Template, m.Data, err, castellan.CodeMailUnrenderable)
		}
	}
}

func TestNewTemplatesBadURL(t *testing.T) {
	for _, u := range []string{"", "castellan.test", "ftp://castellan.test", "https://"} {
		if _, err := mail.NewTemplates(u); err == nil {
			t.Errorf("NewTemplates(%q): got no error", u)
		}
	}
}
