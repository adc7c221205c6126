package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/server"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sso"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlags("serve", stderr, getenv)
	openStore := f.store()
	listen := f.str("listen", "CASTELLAN_LISTEN", "127.0.0.1:8080", "address to serve the API on")
	operatorTokenFile := f.str("operator-token-file", "CASTELLAN_OPERATOR_TOKEN_FILE", "", "file holding an operator token, one per line")
	secretKeyFile := f.secretKeyFile()
	mailConfig := f.mail()
	signInPolicy := f.signInPolicy()
	accountLimit := f.accountLimit()
	userLimit := f.userLimit()
	chooseAuthorizer := f.authorizerChoice()
	consistencyWait := f.consistencyWait()
	makeDecisionLog := f.decisionLog()
	authnConfig := f.authn()
	logs := f.logging()
	timeouts := f.httpTimeouts()
	ncloudPrefix := f.ncloudPrefix()
	compatCloudru := f.cloudruPrefix()
	ssoPrivate := f.boolean("sso-allow-private-networks", "CASTELLAN_SSO_ALLOW_PRIVATE_NETWORKS",
		"let single sign-on reach identity providers on loopback, private and link-local addresses (a provider on this machine or network); off, federations can name public hosts only")
	if err := f.parse(args); err != nil {
		return err
	}
	ncloudMount, err := ncloudPrefix()
	if err != nil {
		return err
	}
	cloudruPrefix, err := compatCloudru()
	if err != nil {
		return err
	}
	if err := checkCompatPrefixes(ncloudMount, cloudruPrefix); err != nil {
		return err
	}
	waitForRevision, err := consistencyWait()
	if err != nil {
		return err
	}
	policy, err := signInPolicy()
	if err != nil {
		return err
	}
	maxAccounts, err := accountLimit()
	if err != nil {
		return err
	}
	maxUsers, err := userLimit()
	if err != nil {
		return err
	}
	log, err := logs.logger(stderr)
	if err != nil {
		return err
	}
	httpTimeouts, err := timeouts()
	if err != nil {
		return err
	}
	var operatorTokens []string
	if *operatorTokenFile != "" {
		if operatorTokens, err = readOperatorTokens(*operatorTokenFile); err != nil {
			return err
		}
	}
	trustedProxies, err := parseTrustedProxies(*authnConfig.trustedProxies)
	if err != nil {
		return err
	}

	queries, observeQuery := queryDuration()
	db, err := f.openServeStore(ctx, openStore, sqlstore.Options{ObserveQuery: observeQuery, MaxAccounts: maxAccounts, MaxUsers: maxUsers, SignIn: policy}, *secretKeyFile, log)
	if err != nil {
		return err
	}
	defer db.Close()
	services := db.Services()
	feed, feedMetrics, stopFeed, err := startChangeFeed(ctx, db, *authnConfig.pollInterval, log)
	if err != nil {
		return err
	}
	defer stopFeed()
	cacheMetrics, stopCache, err := startTokenCache(ctx, feed, &services, log)
	if err != nil {
		return err
	}
	defer stopCache()
	authorizer, err := chooseAuthorizer(ctx, db, services, feed)
	if err != nil {
		return err
	}
	decisions, err := makeDecisionLog(services.DecisionLog, log)
	if err != nil {
		return err
	}
	// The log flushes what is buffered after the server has stopped.
	logCtx, stopLog := context.WithCancel(context.WithoutCancel(ctx))
	waitLog := decisions.Start(logCtx)
	defer func() { stopLog(); waitLog() }()
	go sweep(ctx, log, time.Minute, "expired grants", db.Services().Grants.DeleteExpiredGrants)
	go sweep(ctx, log, time.Minute, "expired console sessions", db.Services().Sessions.DeleteExpiredSessions)
	go sweep(ctx, log, time.Minute, "expired idempotency keys", db.Services().Idempotency.DeleteExpiredIdempotencyRecords)
	go sweep(ctx, log, time.Minute, "stale planner statistics", db.RefreshStatistics)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mailer, err := mailConfig.build(db.Services().Outbox, ln.Addr(), log)
	if err != nil {
		ln.Close()
		return err
	}
	// The sender stops with the server, before the store closes.
	mailCtx, stopMail := context.WithCancel(ctx)
	waitMail := mailer.start(mailCtx)
	defer func() { stopMail(); waitMail() }()
	srv := newHTTPServer(server.Config{Services: services, Logger: log, Version: version(), OperatorTokens: operatorTokens, TrustedProxies: trustedProxies,
		DevMailbox: mailer.devMailbox, SignIn: policy, Collectors: append(append(append(cacheMetrics, feedMetrics...), queries, buildInfo()), append(storeMetrics(db), decisionLogMetrics(decisions)...)...),
		SecureCookies: mailer.secureCookies, PublicURL: mailer.publicURL, SSO: sso.New(sso.Options{AllowPrivateNetworks: *ssoPrivate}), Authorizer: authorizer, DecisionLog: decisions, Revisions: feed, ConsistencyWait: waitForRevision,
		NcloudPrefix: ncloudMount, CloudruPrefix: cloudruPrefix,
	}, httpTimeouts)
	log.Info("listening", "addr", "http://"+ln.Addr().String(), "database", db.Dialect(), "mail", mailer.transport, "version", version())
	// The address on stdout is for whoever started the server (a script,
	// a test); with JSON logs it is a JSON line too, for log shippers.
	if logs.json() {
		announce, _ := logs.logger(stdout)
		announce.Info("castellan listening", "addr", "http://"+ln.Addr().String())
	} else {
		fmt.Fprintf(stdout, "castellan listening on http://%s\n", ln.Addr())
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHTTPServer serves the surfaces of cfg with the given timeouts.
func newHTTPServer(cfg server.Config, timeouts httpTimeouts) *http.Server {
	cfg.BodyReadTimeout = timeouts.bodyRead
	// No ReadTimeout: its deadline would stay on the connection while the
	// handler runs and cancel the request (see web.Config.BodyReadTimeout).
	return &http.Server{
		Handler:           server.Handler(cfg),
		ReadHeaderTimeout: timeouts.readHeader,
		WriteTimeout:      timeouts.write,
		IdleTimeout:       timeouts.idle,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
}

// sweep runs remove every interval until ctx ends, logging what it
// removed. Expired grants, sessions and idempotency keys stop counting
// at their expiry whether swept or not; the sweeps keep tables and lists
// clean (the grant sweep audits its removals).
func sweep(ctx context.Context, log *slog.Logger, interval time.Duration, what string, remove func(context.Context) (int, error)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		n, err := remove(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("sweep "+what, "err", err)
		case n > 0:
			log.Info("swept "+what, "count", n)
		}
	}
}

// readOperatorTokens reads the operator tokens of a file, one per line;
// blank lines and lines starting with # are ignored.
func readOperatorTokens(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--operator-token-file: %w", err)
	}
	var tokens []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !castellan.ValidTokenSyntax(line) {
			return nil, fmt.Errorf("--operator-token-file %s line %d: not a Castellan token (cst_ and 43 base64url characters)", path, i+1)
		}
		tokens = append(tokens, line)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("--operator-token-file %s: no token in it", path)
	}
	return tokens, nil
}
