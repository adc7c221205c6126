// Package mail delivers the mails of the outbox: a Sender claims due mails
// from the store, renders them from embedded templates (text and HTML for
// each castellan.MailTemplate) and hands them to a Transport, SMTP or the
// dev mailbox, with retries and exponential backoff until a mail is sent
// or dead.
//
// Delivery is at least once: a sender that dies between the server's
// acceptance and the record of it leaves the mail to be sent again when
// its lease runs out. Every copy carries the mail's ID as Message-ID and
// in the X-Castellan-Idempotency-Key header, so receivers can drop
// duplicates.
package mail

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// IdempotencyHeader carries the outbox ID of a mail in every copy of it.
const IdempotencyHeader = "X-Castellan-Idempotency-Key"

// Message is one email ready for a Transport.
type Message struct {
	// ID is the outbox ID of the mail, the same in every delivery of it.
	ID   string
	From mail.Address
	To   mail.Address
	// Date is when the mail was written to the outbox, so that every
	// delivery of it is the same message, byte for byte.
	Date    time.Time
	Subject string
	Text    string
	HTML    string
}

// MessageID is the Message-ID of the mail, built from its outbox ID.
func (m *Message) MessageID() string { return "<" + m.ID + "@castellan>" }

// Bytes returns the message in RFC 5322 form with CRLF line ends: headers,
// then a multipart/alternative body of the text and the HTML, each
// quoted-printable. The boundary, =_<ID>, cannot occur in
// quoted-printable text.
func (m *Message) Bytes() ([]byte, error) {
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", m.From.String())
	header("To", m.To.String())
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	header("Date", m.Date.UTC().Format(time.RFC1123Z))
	header("Message-ID", m.MessageID())
	header(IdempotencyHeader, m.ID)
	header("MIME-Version", "1.0")
	body := multipart.NewWriter(&b)
	if err := body.SetBoundary("=_" + m.ID); err != nil {
		return nil, fmt.Errorf("message %s: %w", m.ID, err)
	}
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": body.Boundary()}))
	b.WriteString("\r\n")
	for _, part := range []struct{ contentType, content string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := body.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.contentType},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		// In text mode the writer ends every line, \n or \r\n, with CRLF.
		if _, err := qp.Write([]byte(part.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := body.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// oneLine folds a header value onto one line, so that no data can add a
// header.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
