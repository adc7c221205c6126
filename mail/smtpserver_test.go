package mail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpOptions configure a test SMTP server.
type smtpOptions struct {
	// user and password, when set, are required (AUTH PLAIN) before MAIL.
	user, password string
	// tls offers STARTTLS with a self-signed certificate for 127.0.0.1;
	// AUTH is then offered only after STARTTLS.
	tls bool
	// implicitTLS speaks TLS from the start (smtps) instead.
	implicitTLS bool
	// rejectFirst is how many DATA commands are refused with 451.
	rejectFirst int
}

// received is one message the server accepted.
type received struct {
	from string
	to   []string
	data []byte
	// user is who authenticated, tls whether the session was encrypted.
	user string
	tls  bool
}

// smtpServer is a real SMTP server (emersion/go-smtp) on a loopback port.
type smtpServer struct {
	addr string
	// roots trusts the server's certificate when it offers STARTTLS.
	roots *x509.CertPool
	opts  smtpOptions

	mu        sync.Mutex
	dataCalls int
	got       []received
}

func startSMTP(t *testing.T, opts smtpOptions) *smtpServer {
	t.Helper()
	srv := &smtpServer{opts: opts}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: srv, conn: c}, nil
	}))
	s.Domain = "mx.test"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	// Without TLS, AUTH PLAIN goes over the loopback in the clear, which
	// the client allows for localhost only.
	s.AllowInsecureAuth = !opts.tls && !opts.implicitTLS
	var tlsConfig *tls.Config
	if opts.tls || opts.implicitTLS {
		cert, roots := selfSignedCert(t)
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.roots = roots
	}
	if opts.tls {
		s.TLSConfig = tlsConfig
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if opts.implicitTLS {
		ln = tls.NewListener(ln, tlsConfig)
	}
	srv.addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return srv
}

// messages returns what the server accepted so far.
func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// url is the --smtp URL of the server.
func (s *smtpServer) url() string {
	scheme := "smtp://"
	if s.opts.implicitTLS {
		scheme = "smtps://"
	}
	if s.opts.user != "" {
		return scheme + s.opts.user + ":" + s.opts.password + "@" + s.addr
	}
	return scheme + s.addr
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != s.srv.opts.user || password != s.srv.opts.password {
			return errors.New("invalid credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.dataCalls++
	if s.srv.dataCalls <= s.srv.opts.rejectFirst {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.got = append(s.srv.got, received{from: s.from, to: s.to, data: data, user: s.user, tls: isTLS})
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// selfSignedCert returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
