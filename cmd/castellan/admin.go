package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/mail"
	"github.com/castellan-iam/castellan/sqlstore"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlags("migrate", stderr, getenv)
	openStore := f.store()
	if err := f.parse(args); err != nil {
		return err
	}
	db, err := openStore(ctx, sqlstore.Options{SkipMigrate: true})
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	for _, name := range applied {
		fmt.Fprintln(stdout, "applied", name)
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "schema is up to date")
	}
	return nil
}

func runBootstrap(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	f := newFlags("bootstrap", stderr, getenv)
	openStore := f.store()
	org := f.String("org", "", "name of the organization to create")
	ownerEmail := f.String("owner-email", "", "email address of its first owner")
	passwordStdin := f.Bool("owner-password-stdin", false, "read the owner's console password from the first line of standard input; without it the owner gets a one-time link to set it")
	publicURL := f.str("public-url", "CASTELLAN_PUBLIC_URL", "http://127.0.0.1:8080", "URL where users reach Castellan, for the owner's password link")
	operator := f.Bool("operator", false, "create an operator token instead of an organization")
	asJSON := f.Bool("json", false, "print one JSON object instead of text")
	if err := f.parse(args); err != nil {
		return err
	}
	if *operator == (*org != "" || *ownerEmail != "") {
		return errors.New("give either --org and --owner-email, or --operator")
	}
	links, err := mail.NewTemplates(*publicURL)
	if err != nil {
		return fmt.Errorf("--public-url: %w", err)
	}
	boot := castellan.Bootstrap{OrganizationName: *org, OwnerEmail: *ownerEmail, PasswordLink: !*passwordStdin}
	if *passwordStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (!errors.Is(err, io.EOF) || line == "") {
			return fmt.Errorf("--owner-password-stdin: no password on standard input: %w", err)
		}
		boot.OwnerPassword = strings.TrimRight(line, "\r\n")
	}
	db, err := openStore(ctx, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	ctx = castellan.WithRequestInfo(ctx, castellan.RequestInfo{RequestID: "cli-bootstrap", SourceIP: "local"})

	if *operator {
		t, err := db.Tokens().CreateOperatorToken(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(map[string]string{"operatorTokenId": t.ID, "token": t.Token})
		}
		fmt.Fprintf(stdout, "Operator token (shown once, keep it secret):\n%s\n", t.Token)
		return nil
	}
	res, err := db.Tokens().BootstrapOrganization(ctx, boot)
	if err != nil {
		return describe(err)
	}
	passwordLink := ""
	if res.InvitationToken != "" {
		passwordLink = links.Link("invitationToken", res.InvitationToken)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			OrganizationID string `json:"organizationId"`
			OwnerUserID    string `json:"ownerUserId"`
			Token          string `json:"token"`
			PasswordLink   string `json:"passwordLink,omitempty"`
		}{res.OrganizationID, res.OwnerUserID, res.Token, passwordLink})
	}
	fmt.Fprintf(stdout, "Organization ID: %s\nOwner user ID:   %s\nAPI token (shown once, keep it secret):\n%s\n",
		res.OrganizationID, res.OwnerUserID, res.Token)
	if passwordLink != "" {
		fmt.Fprintf(stdout, "Set the owner's console password at this link (valid %d days, usable once; also in the mail outbox):\n%s\n",
			castellan.InvitationValidity/(24*time.Hour), passwordLink)
	}
	fmt.Fprintf(stdout, "Then sign in to the console at %s/console/sign-in as %s, organization %q.\n",
		strings.TrimSuffix(*publicURL, "/"), *ownerEmail, *org)
	return nil
}

// describe spells out a validation error's fields for the terminal.
func describe(err error) error {
	var e *castellan.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	var b strings.Builder
	b.WriteString(e.Code)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "\n  --%s: %s (%s)", f.Field, f.Message, f.Rule)
	}
	return errors.New(b.String())
}
