package main

import (
	"context"
	"fmt"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/changefeed"
	"github.com/castellan-iam/castellan/index"
)

// authorizerChoice defines --authorizer and returns a function that,
// after parsing, makes the chosen authorizer: "index" (the default) is
// the in-memory index, loaded from source and subscribed to feed so that
// a write of this process is decided on before it returns; "store" is
// the reference, which reads the store on every decision, kept as a
// diagnostic. The index refers principals and organizations it does not
// know yet to the reference (index.Authorizer.ReferUnknown), so that
// those of another process's writes the feed has not polled yet
// (`castellan bootstrap` beside a running server) are decided at once.
func (f *flags) authorizerChoice() func(ctx context.Context, source castellan.AuthzSource, services castellan.Services, feed *changefeed.Feed) (castellan.Authorizer, error) {
	choice := f.str("authorizer", "CASTELLAN_AUTHORIZER", "index", "where decisions come from: index (in memory, kept by the change feed) or store (read on every decision, a diagnostic)")
	return func(ctx context.Context, source castellan.AuthzSource, services castellan.Services, feed *changefeed.Feed) (castellan.Authorizer, error) {
		switch *choice {
		case "store":
			return nil, nil // server.Handler's reference
		case "index":
			authorizer := index.New(source, services, castellan.SystemClock)
			authorizer.ReferUnknown = true
			if err := feed.Subscribe(ctx, authorizer); err != nil {
				return nil, err
			}
			return authorizer, nil
		}
		return nil, fmt.Errorf("--authorizer %q: want index or store", *choice)
	}
}
