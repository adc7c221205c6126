package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/castellan-iam/castellan"
)

//go:embed templates
var templateFiles embed.FS

// Templates renders the mails of the outbox from the templates embedded
// in the binary: per castellan.MailTemplate, templates/<name>.txt holds
// the subject (a "subject" block) and the text, templates/<name>.html the
// HTML content inside templates/layout.html. It implements
// castellan.MailRenderer and is safe for concurrent use.
type Templates struct {
	publicURL string
	text      map[castellan.MailTemplate]*texttemplate.Template
	html      map[castellan.MailTemplate]*htmltemplate.Template
}

var _ castellan.MailRenderer = (*Templates)(nil)

// linkTokens are the data keys from which a missing "link" is built: the
// token goes into the query of the page under the public URL.
var linkTokens = []struct{ key, path string }{
	{"invitationToken", "/invitations/accept"},
	{"resetToken", "/password-reset"},
}

// pageLinks are the pages under the public URL that templates without a
// token link to when the data gives no "link".
var pageLinks = map[castellan.MailTemplate]string{
	castellan.MailFederatedWelcome: "/console/sign-in",
}

// required lists the data keys (after the link is built) without which a
// template's mail makes no sense.
var required = map[castellan.MailTemplate][]string{
	castellan.MailInvitation:        {"link"},
	castellan.MailReinvite:          {"link"},
	castellan.MailPasswordReset:     {"link"},
	castellan.MailGroupChanged:      {"groupName", "change"},
	castellan.MailAccountNotice:     {"subject", "message"},
	castellan.MailAccountExcluded:   {"accountName", "accountId", "newOrganizationName"},
	castellan.MailAccountInvitation: {"email"},
	castellan.MailAccountDeleted:    {"accountName", "accountId"},
	castellan.MailFederatedWelcome:  {"link", "federationId"},
}

// NewTemplates parses the embedded templates. publicURL is where users
// reach Castellan (https://iam.example.com): links built from tokens start
// with it.
func NewTemplates(publicURL string) (*Templates, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("public URL %q: want http(s)://host[:port][/path]", publicURL)
	}
	t := &Templates{
		publicURL: strings.TrimSuffix(publicURL, "/"),
		text:      map[castellan.MailTemplate]*texttemplate.Template{},
		html:      map[castellan.MailTemplate]*htmltemplate.Template{},
	}
	funcs := map[string]any{"date": formatDate, "paragraphs": paragraphs}
	for _, name := range castellan.MailTemplates {
		text, err := texttemplate.New(string(name)).Option("missingkey=zero").Funcs(funcs).
			ParseFS(templateFiles, "templates/"+string(name)+".txt", "templates/footer.txt")
		if err != nil {
			return nil, fmt.Errorf("mail template %s: %w", name, err)
		}
		if text.Lookup("subject") == nil {
			return nil, fmt.Errorf("mail template %s: no subject block", name)
		}
		html, err := htmltemplate.New(string(name)).Option("missingkey=zero").Funcs(funcs).
			ParseFS(templateFiles, "templates/layout.html", "templates/"+string(name)+".html")
		if err != nil {
			return nil, fmt.Errorf("mail template %s: %w", name, err)
		}
		t.text[name], t.html[name] = text, html
	}
	return t, nil
}

// RenderMail implements castellan.MailRenderer.
func (t *Templates) RenderMail(m *castellan.Mail) (*castellan.RenderedMail, error) {
	text, ok := t.text[m.Template]
	if !ok {
		return nil, unrenderable("mail %s: unknown template %q", m.ID, m.Template)
	}
	data := t.data(m)
	for _, key := range required[m.Template] {
		if data[key] == "" {
			return nil, unrenderable("mail %s: template %s needs data key %q", m.ID, m.Template, key)
		}
	}
	var subject, body, html bytes.Buffer
	if err := text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return nil, fmt.Errorf("mail %s subject: %w", m.ID, err)
	}
	if err := text.ExecuteTemplate(&body, string(m.Template)+".txt", data); err != nil {
		return nil, fmt.Errorf("mail %s text: %w", m.ID, err)
	}
	if err := t.html[m.Template].ExecuteTemplate(&html, "layout.html", data); err != nil {
		return nil, fmt.Errorf("mail %s html: %w", m.ID, err)
	}
	// The files end in newlines of their own.
	plain := strings.TrimRight(body.String(), "\n") + "\n"
	return &castellan.RenderedMail{Subject: oneLine(subject.String()), Text: plain, HTML: html.String()}, nil
}

// data is what the templates see: the mail's data, the link built from a
// token or to the template's page when the data has none, and the public
// URL.
func (t *Templates) data(m *castellan.Mail) map[string]string {
	data := make(map[string]string, len(m.Data)+2)
	for k, v := range m.Data {
		data[k] = v
	}
	data["publicURL"] = t.publicURL
	for _, lt := range linkTokens {
		if token := data[lt.key]; token != "" && data["link"] == "" {
			data["link"] = t.Link(lt.key, token)
		}
	}
	if page, ok := pageLinks[m.Template]; ok && data["link"] == "" {
		data["link"] = t.publicURL + page
	}
	return data
}

// Link is the link a mail gives for token held under the data key
// (invitationToken, resetToken): its page under the public URL, the
// token in the query; "" for another key.
func (t *Templates) Link(key, token string) string {
	for _, lt := range linkTokens {
		if lt.key == key {
			return t.publicURL + lt.path + "?token=" + url.QueryEscape(token)
		}
	}
	return ""
}

func unrenderable(format string, args ...any) error {
	return castellan.Errorf(castellan.EINVALID, castellan.CodeMailUnrenderable, format, args...)
}

// formatDate shows an RFC 3339 time of the data for people, in UTC; other
// text is shown as it is.
func formatDate(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2 January 2006, 15:04 UTC")
}

// paragraphs splits plain text at blank lines.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
