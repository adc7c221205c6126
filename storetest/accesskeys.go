package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
)

// testKeyExpiryInThePast: a key that expires now or earlier would never
// work yet take a place; it is refused with the field and the rule, and
// nothing is written.
func testKeyExpiryInThePast(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	before := takeSnapshot(t, f.s, f.org)
	for _, at := range []time.Time{time.Unix(0, 0), f.clock.Now().Add(-time.Second), f.clock.Now()} {
		_, err := f.s.AccessKeys.CreateAccessKey(context.Background(), f.org, castellan.AccessKeyCreate{
			Owner: castellan.Subject{Type: castellan.SubjectUser, ID: f.user}, ProjectID: f.project, Name: "old", ExpiresAt: &at})
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, "expiresAt", "future")
	}
	unchanged(t, f.s, f.org, before)
}

// testExpiredKeysHoldNoPlace: of the two places per project, an expired
// key takes none, and the limit error names the keys that do.
func testExpiredKeysHoldNoPlace(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	ctx := context.Background()
	soon := f.clock.Now().Add(time.Minute)
	expiring, lasting := f.key(t, &soon), f.key(t, nil)
	// wantLimit checks that a third key is refused, naming the held keys
	// and no other.
	wantLimit := func(held, other *castellan.NewAccessKey) {
		t.Helper()
		before := takeSnapshot(t, f.s, f.org)
		_, err := f.s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{
			Owner: castellan.Subject{Type: castellan.SubjectUser, ID: f.user}, ProjectID: f.project, Name: "third"})
		wantCode(t, err, castellan.ECONFLICT, castellan.CodeAccessKeyLimitReached)
		if !strings.Contains(err.Error(), held.ID) || !strings.Contains(err.Error(), lasting.ID) || other != nil && strings.Contains(err.Error(), other.ID) {
			t.Fatalf("got %v, want it to name keys %s and %s only", err, held.ID, lasting.ID)
		}
		unchanged(t, f.s, f.org, before)
	}
	wantLimit(expiring, nil)

	f.clock.Advance(time.Minute)
	wantLimit(f.key(t, nil), expiring)
}

// testKeyWithoutAPIAccess: a user whose API access is off gets no key,
// and nothing is written.
func testKeyWithoutAPIAccess(t *testing.T, open Opener) {
	f := newCredentialFixture(t, open)
	ctx := context.Background()
	must(f.s.Users.UpdateUser(ctx, f.org, f.user, castellan.UserUpdate{APIAccess: ptr(false)}))(t)
	before := takeSnapshot(t, f.s, f.org)
	_, err := f.s.AccessKeys.CreateAccessKey(ctx, f.org, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: f.user}, ProjectID: f.project, Name: "ci"})
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeAccessKeyAPIAccessDisabled)
	unchanged(t, f.s, f.org, before)
	owner := castellan.Subject{Type: castellan.SubjectUser, ID: f.user}
	if keys := listed(f.s.AccessKeys.FindAccessKeys(ctx, f.org, castellan.AccessKeyFilter{Owner: &owner}))(t); len(keys) != 0 {
		t.Fatalf("got keys %+v", keys)
	}
	must(f.s.Users.UpdateUser(ctx, f.org, f.user, castellan.UserUpdate{APIAccess: ptr(true)}))(t)
	f.key(t, nil)
}
