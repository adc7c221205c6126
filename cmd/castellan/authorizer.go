package main

import (
	"context"
	"fmt"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/changefeed"
	"github.com/castellan-iam/castellan/index"
)

// authorizerChoice defines --authorizer and returns a function that,
// after parsing, makes the chosen authorizer: "store" (the default) is
// the reference, which reads the store on every decision; "index" is the
// in-memory index, subscribed to feed so that a write of this process is
// decided on before it returns. The index rebuilds a whole organization
// per change today, which costs a write in a very large organization
// many reads; it becomes the default when it applies changes in place
// (issue 14).
func (f *flags) authorizerChoice() func(ctx context.Context, services castellan.Services, feed *changefeed.Feed) (castellan.Authorizer, error) {
	choice := f.str("authorizer", "CASTELLAN_AUTHORIZER", "store", "where decisions come from: store (read on every decision) or index (in memory, kept by the change feed)")
	return func(ctx context.Context, services castellan.Services, feed *changefeed.Feed) (castellan.Authorizer, error) {
		switch *choice {
		case "store":
			return nil, nil // server.Handler's reference
		case "index":
			authorizer := index.New(services, castellan.SystemClock)
			if err := feed.Subscribe(ctx, authorizer); err != nil {
				return nil, err
			}
			return authorizer, nil
		}
		return nil, fmt.Errorf("--authorizer %q: want store or index", *choice)
	}
}
