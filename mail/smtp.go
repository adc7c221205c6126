package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/url"
	"time"
)

// SMTP delivers messages to one SMTP server (a relay or submission
// service). It dials per message; mail is rare next to everything else.
//
// It uses the standard net/smtp client: it upgrades with STARTTLS when the
// server offers it, which go-smtp's client cannot do short of dialling
// twice, and its PLAIN authentication refuses to send credentials over an
// unencrypted connection to any host but localhost.
type SMTP struct {
	addr, host  string
	implicitTLS bool
	// requireTLS refuses to deliver over a connection that STARTTLS did
	// not encrypt (?starttls=required).
	requireTLS bool
	user       *url.Userinfo
	redacted   string
	// TLSConfig is used for STARTTLS and smtps; nil verifies the server
	// against the system roots under its host name. Tests set RootCAs.
	TLSConfig *tls.Config
	// LocalName is the name given in EHLO; "localhost" when empty.
	LocalName string
	// Timeout bounds one whole delivery, from dialling to QUIT.
	Timeout time.Duration
}

var _ Transport = (*SMTP)(nil)

// NewSMTP returns the transport of a URL smtp://[user:password@]host[:port]
// (port 25 by default; STARTTLS when the server offers it, AUTH PLAIN when
// credentials are given) or smtps://… (TLS from the start, port 465 by
// default). User and password are percent-encoded in the URL. The query
// ?starttls=required makes an smtp:// delivery fail, rather than go out
// in the clear, when the server does not offer STARTTLS (an attacker on
// the path can strip the offer).
func NewSMTP(rawURL string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("SMTP URL: %w", err)
	}
	port := map[string]string{"smtp": "25", "smtps": "465"}[u.Scheme]
	switch {
	case port == "":
		return nil, fmt.Errorf("SMTP URL %s: want smtp://[user:password@]host[:port] or smtps://…", u.Redacted())
	case u.Hostname() == "":
		return nil, fmt.Errorf("SMTP URL %s: no host", u.Redacted())
	case u.Path != "" && u.Path != "/" || u.Fragment != "":
		return nil, fmt.Errorf("SMTP URL %s: want no path or fragment", u.Redacted())
	}
	query, err := url.ParseQuery(u.RawQuery)
	requireTLS := len(query) == 1 && len(query["starttls"]) == 1 && query.Get("starttls") == "required"
	switch {
	case err != nil || len(query) > 0 && !requireTLS:
		return nil, fmt.Errorf("SMTP URL %s: the only query it takes is starttls=required", u.Redacted())
	case requireTLS && u.Scheme != "smtp":
		return nil, fmt.Errorf("SMTP URL %s: starttls=required is for smtp://; smtps:// is TLS from the start", u.Redacted())
	}
	if u.Port() != "" {
		port = u.Port()
	}
	if _, hasPassword := u.User.Password(); u.User != nil && (u.User.Username() == "" || !hasPassword) {
		return nil, fmt.Errorf("SMTP URL %s: credentials need a user and a password", u.Redacted())
	}
	return &SMTP{
		addr: net.JoinHostPort(u.Hostname(), port), host: u.Hostname(),
		implicitTLS: u.Scheme == "smtps", requireTLS: requireTLS, user: u.User, redacted: u.Redacted(),
		Timeout: time.Minute,
	}, nil
}

// String returns the URL without its password, for logs.
func (s *SMTP) String() string { return s.redacted }

// Deliver implements Transport. An error of the server is a
// *textproto.Error with its reply code.
func (s *SMTP) Deliver(ctx context.Context, msg *Message) error {
	body, err := msg.Bytes()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	conn, err := s.dial(ctx)
	if err != nil {
		return err
	}
	// The client has no context: closing the connection ends whatever
	// it is waiting for.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return s.failed(ctx, "greeting", err)
	}
	defer c.Close()
	if err := s.session(c, msg, body); err != nil {
		return s.failed(ctx, "", err)
	}
	return nil
}

func (s *SMTP) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	if s.implicitTLS {
		td := tls.Dialer{NetDialer: &d, Config: s.tlsConfig()}
		conn, err := td.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", s.addr, err)
		}
		return conn, nil
	}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.addr, err)
	}
	return conn, nil
}

// session speaks SMTP from EHLO to QUIT.
func (s *SMTP) session(c *smtp.Client, msg *Message, body []byte) error {
	name := s.LocalName
	if name == "" {
		name = "localhost"
	}
	if err := c.Hello(name); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok && !s.implicitTLS {
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	} else if s.requireTLS {
		return errors.New("STARTTLS: the server does not offer it, and the SMTP URL has starttls=required")
	}
	if s.user != nil {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("AUTH: the server offers no authentication, but the SMTP URL has credentials")
		}
		password, _ := s.user.Password()
		if err := c.Auth(smtp.PlainAuth("", s.user.Username(), password, s.host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(msg.From.Address); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(msg.To.Address); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	// The server has the message; a failing QUIT changes nothing.
	c.Quit()
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.host
	}
	return cfg
}

// failed names the server and, when the context ended the exchange, says
// so rather than reporting a closed connection.
func (s *SMTP) failed(ctx context.Context, step string, err error) error {
	if step != "" {
		err = fmt.Errorf("%s: %w", step, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("smtp %s: %w (%v)", s.addr, ctx.Err(), err)
	}
	return fmt.Errorf("smtp %s: %w", s.addr, err)
}
