package mail_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan/mail"
)

type parsed struct {
	header     netmail.Header
	subject    string
	text, html string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	p := parsed{header: msg.Header, subject: subject}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("got Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		part, err := parts.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		ct := part.Header.Get("Content-Type")
		types = append(types, ct)
		switch ct {
		case "text/plain; charset=utf-8":
			p.text = string(body)
		case "text/html; charset=utf-8":
			p.html = string(body)
		}
	}
	if len(types) != 2 || p.text == "" || p.html == "" {
		t.Fatalf("got parts %v, want text/plain then text/html", types)
	}
	return p
}

func TestMessageBytes(t *testing.T) {
	msg := &mail.Message{
		ID:      "0190d3a8-0000-7000-8000-000000000001",
		From:    mustAddress(t, "Castellan <no-reply@castellan.local>"),
		To:      mustAddress(t, "Zoë Ünal <zoe@example.com>"),
		Date:    time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		Subject: "Grüße\r\nBcc: eve@example.com",
		Text:    "Line one\nLine two with a very long text that goes on and on past the seventy-six characters of a line\n",
		HTML:    "<p>Grüße</p>\n",
	}
	raw, err := msg.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if strings.Contains(line, "\n") || len(line) > 998 {
			t.Fatalf("line %d is not a CRLF line of at most 998 bytes: %q", i, line)
		}
	}
	m := parse(t, raw)
	if m.subject != "Grüße Bcc: eve@example.com" || m.header.Get("Bcc") != "" {
		t.Fatalf("got subject %q and Bcc %q: a header was injected", m.subject, m.header.Get("Bcc"))
	}
	to, err := m.header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoë Ünal" || to[0].Address != "zoe@example.com" {
		t.Fatalf("got To %v (%v)", to, err)
	}
	if m.header.Get("Date") != "Wed, 04 Mar 2026 05:06:07 +0000" || m.header.Get(mail.IdempotencyHeader) != msg.ID {
		t.Fatalf("got headers %v", m.header)
	}
	if m.text != strings.ReplaceAll(msg.Text, "\n", "\r\n") || m.html != "<p>Grüße</p>\r\n" {
		t.Fatalf("got text %q, html %q", m.text, m.html)
	}
	again, _ := msg.Bytes()
	if string(again) != string(raw) {
		t.Fatal("two renderings of one message differ")
	}
}

func mustAddress(t *testing.T, s string) netmail.Address {
	t.Helper()
	p, err := netmail.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return *p
}
