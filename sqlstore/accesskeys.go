package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// AccessKeyService implements castellan.AccessKeyService. Secrets and
// tokens are 32 random bytes; the store keeps their SHA-256, and a key's
// secret also sealed when a sealer is set (sealedsecrets.go).
type AccessKeyService struct{ db *DB }

var _ castellan.AccessKeyService = (*AccessKeyService)(nil)

// AccessKeys returns the access key service of db.
func (db *DB) AccessKeys() *AccessKeyService { return &AccessKeyService{db: db} }

// accessKeyColumns read a key of access_keys with the name of its project
// (empty when the project is gone), which the organization-wide list shows.
const accessKeyColumns = `id, org_id, project_id, owner_type, owner_id, name, status, expires_at, created_at, created_by, last_used_at, revision,
	COALESCE((SELECT n.name FROM nodes n WHERE n.org_id = access_keys.org_id AND n.id = access_keys.project_id), '')`

var keyIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newAccessKeyID returns "CAK" and 20 base32 characters (100 random bits).
func newAccessKeyID() string {
	var b [13]byte
	rand.Read(b[:])
	return "CAK" + keyIDEncoding.EncodeToString(b[:])[:20]
}

// newSecret returns a fresh secret and the hash to store for it.
func newSecret() (secret, hash string) {
	var b [32]byte
	rand.Read(b[:])
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, HashToken(secret)
}

func scanAccessKey(row scanner) (*castellan.AccessKey, error) {
	var (
		k                   castellan.AccessKey
		ownerType           string
		expiresAt, lastUsed sql.NullTime
	)
	err := row.Scan(&k.ID, &k.OrganizationID, &k.ProjectID, &ownerType, &k.Owner.ID, &k.Name, &k.Status,
		&expiresAt, &k.CreatedAt, &k.CreatedBy, &lastUsed, &k.Revision, &k.ProjectName)
	if err != nil {
		return nil, err
	}
	k.Owner.Type = castellan.SubjectType(ownerType)
	k.CreatedAt = k.CreatedAt.UTC()
	if expiresAt.Valid {
		t := expiresAt.Time.UTC()
		k.ExpiresAt = &t
	}
	if lastUsed.Valid {
		t := lastUsed.Time.UTC()
		k.LastUsedAt = &t
	}
	return &k, nil
}

func accessKeyNotFound(id string) error {
	return notFound(castellan.CodeAccessKeyNotFound, "access key", id)
}

// lockOwner checks inside tx that the key's owner exists where the key
// is to be created, and keeps it from being deleted until tx ends. A user
// must also have API access: a key it could never exchange would only
// wait to come alive the day someone turns API access on.
func lockOwner(ctx context.Context, tx *Tx, orgID, projectID string, owner castellan.Subject) error {
	switch owner.Type {
	case castellan.SubjectServiceAccount:
		_, err := findServiceAccountIn(ctx, tx, orgID, projectID, owner.ID, tx.db.dialect.lockKey)
		return err
	case castellan.SubjectUser:
		var apiAccess bool
		err := tx.queryRow(ctx, `SELECT api_access FROM users WHERE org_id = ? AND id = ? AND status <> ?`+tx.db.dialect.lockKey,
			orgID, owner.ID, castellan.UserDeleted).Scan(&apiAccess)
		if isNoRows(err) {
			return notFound(castellan.CodeUserNotFound, "user", owner.ID)
		}
		if err == nil && !apiAccess {
			return castellan.Errorf(castellan.EPRECONDITION, castellan.CodeAccessKeyAPIAccessDisabled,
				"user %s has no API access: turn apiAccess on before creating keys for it", owner.ID)
		}
		return err
	}
	return castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidField, "an access key belongs to a user or a service account")
}

// CreateAccessKey implements castellan.AccessKeyService. The count and
// the insert run in one write transaction; writers take the revision
// counter first and so run one after the other, which makes the limit
// hold under concurrent creates on both backends.
func (s *AccessKeyService) CreateAccessKey(ctx context.Context, orgID string, c castellan.AccessKeyCreate) (*castellan.NewAccessKey, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var k *castellan.NewAccessKey
	err := s.db.update(ctx, func(tx *Tx) error {
		if err := lockProject(ctx, tx, orgID, c.ProjectID, tx.db.dialect.lockKey); err != nil {
			return err
		}
		if err := lockOwner(ctx, tx, orgID, c.ProjectID, c.Owner); err != nil {
			return err
		}
		expiresAt, err := futureExpiry("expiresAt", c.ExpiresAt, tx.now)
		if err != nil {
			return err
		}
		if err := checkKeyPlace(ctx, tx, orgID, c); err != nil {
			return err
		}
		var hash string
		k = &castellan.NewAccessKey{AccessKey: castellan.AccessKey{
			ID: newAccessKeyID(), OrganizationID: orgID, ProjectID: c.ProjectID, Owner: c.Owner, Name: c.Name,
			Status: castellan.AccessKeyEnabled, ExpiresAt: expiresAt, CreatedAt: tx.now, CreatedBy: tx.actorID(), Revision: tx.revision,
		}}
		k.Secret, hash = newSecret()
		sealed, kekID, err := tx.db.sealSecret(k.ID, k.Secret)
		if err != nil {
			return err
		}
		var expires any
		if expiresAt != nil {
			expires = *expiresAt
		}
		_, err = tx.exec(ctx, `INSERT INTO access_keys (id, org_id, project_id, owner_type, owner_id, name, secret_hash, secret_sealed, secret_kek_id,
				status, expires_at, created_at, created_by, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, orgID, k.ProjectID, string(k.Owner.Type), k.Owner.ID, k.Name, hash, sealed, kekID,
			k.Status, expires, k.CreatedAt, k.CreatedBy, k.Revision)
		if err != nil {
			return fmt.Errorf("insert access key: %w", err)
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionCreateAccessKey,
			entityType: "access_key", entityID: k.ID, entityName: k.Name, operation: "create",
			summary: map[string]any{"name": k.Name, "projectId": k.ProjectID, "ownerType": k.Owner.Type, "ownerId": k.Owner.ID, "expiresAt": k.ExpiresAt},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// checkKeyPlace refuses a key beyond MaxAccessKeysPerProject for its
// owner in its project. Expired keys hold no place: they can never work
// again and wait only to be deleted. The error names the keys that do, so
// that the caller knows which one to delete.
func checkKeyPlace(ctx context.Context, tx *Tx, orgID string, c castellan.AccessKeyCreate) error {
	rows, err := tx.query(ctx, `SELECT id FROM access_keys WHERE org_id = ? AND owner_type = ? AND owner_id = ? AND project_id = ?
		AND (expires_at IS NULL OR expires_at > ?) ORDER BY id`,
		orgID, string(c.Owner.Type), c.Owner.ID, c.ProjectID, tx.now)
	if err != nil {
		return fmt.Errorf("count access keys: %w", err)
	}
	held, err := collect(rows, scanString)
	if err != nil {
		return fmt.Errorf("count access keys: %w", err)
	}
	if len(held) < castellan.MaxAccessKeysPerProject {
		return nil
	}
	return castellan.Errorf(castellan.ECONFLICT, castellan.CodeAccessKeyLimitReached,
		"%s %s already has %d unexpired access keys in project %s (%s): delete one first",
		c.Owner.Type, c.Owner.ID, len(held), c.ProjectID, strings.Join(held, ", "))
}

// FindAccessKeyByID implements castellan.AccessKeyService.
func (s *AccessKeyService) FindAccessKeyByID(ctx context.Context, orgID, id string) (*castellan.AccessKey, error) {
	k, err := scanAccessKey(s.db.queryRow(ctx, `SELECT `+accessKeyColumns+` FROM access_keys WHERE org_id = ? AND id = ?`, orgID, id))
	if isNoRows(err) {
		return nil, accessKeyNotFound(id)
	}
	return k, err
}

// FindAccessKeys implements castellan.AccessKeyService; keys come by ID.
func (s *AccessKeyService) FindAccessKeys(ctx context.Context, orgID string, f castellan.AccessKeyFilter) ([]*castellan.AccessKey, string, error) {
	cur, err := decodeCursor(f.PageToken, "accessKeys", 1)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q, args := `SELECT `+accessKeyColumns+` FROM access_keys WHERE org_id = ?`, []any{orgID}
	if f.Owner != nil {
		q, args = q+` AND owner_type = ? AND owner_id = ?`, append(args, string(f.Owner.Type), f.Owner.ID)
	}
	if f.ProjectID != nil {
		q, args = q+` AND project_id = ?`, append(args, *f.ProjectID)
	}
	if f.Expired != nil {
		now := s.db.now().UTC()
		if *f.Expired {
			q, args = q+` AND expires_at IS NOT NULL AND expires_at <= ?`, append(args, now)
		} else {
			q, args = q+` AND (expires_at IS NULL OR expires_at > ?)`, append(args, now)
		}
	}
	if cur != nil {
		q, args = q+` AND id > ?`, append(args, cur.Key[0])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY id LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	keys, err := collect(rows, scanAccessKey)
	if err != nil {
		return nil, "", err
	}
	keys, next := pageOf(keys, size, func(k *castellan.AccessKey) cursor {
		return cursor{List: "accessKeys", Key: []string{k.ID}}
	})
	return keys, next, nil
}

func findAccessKeyIn(ctx context.Context, tx *Tx, orgID, id string) (*castellan.AccessKey, error) {
	k, err := scanAccessKey(tx.queryRow(ctx, `SELECT `+accessKeyColumns+` FROM access_keys WHERE org_id = ? AND id = ?`+tx.db.dialect.lockDelete, orgID, id))
	if isNoRows(err) {
		return nil, accessKeyNotFound(id)
	}
	return k, err
}

// UpdateAccessKey implements castellan.AccessKeyService. Disabling a key
// also deletes its tokens, so that enabling it again revives none.
func (s *AccessKeyService) UpdateAccessKey(ctx context.Context, orgID, id string, u castellan.AccessKeyUpdate) (*castellan.AccessKey, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	var k *castellan.AccessKey
	err := s.db.update(ctx, func(tx *Tx) error {
		var err error
		if k, err = findAccessKeyIn(ctx, tx, orgID, id); err != nil {
			return err
		}
		summary := map[string]any{}
		if u.Name != nil && *u.Name != k.Name {
			summary["name"], k.Name = diff{k.Name, *u.Name}, *u.Name
		}
		if u.Status != nil && *u.Status != k.Status {
			summary["status"], k.Status = diff{k.Status, *u.Status}, *u.Status
		}
		if len(summary) == 0 {
			return nil
		}
		k.Revision = tx.revision
		if _, err := tx.exec(ctx, `UPDATE access_keys SET name = ?, status = ?, revision = ? WHERE org_id = ? AND id = ?`,
			k.Name, k.Status, k.Revision, orgID, id); err != nil {
			return fmt.Errorf("update access key: %w", err)
		}
		if k.Status == castellan.AccessKeyDisabled {
			if _, err := tx.exec(ctx, `DELETE FROM access_key_tokens WHERE key_id = ?`, id); err != nil {
				return fmt.Errorf("delete access key tokens: %w", err)
			}
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionUpdateAccessKey,
			entityType: "access_key", entityID: id, entityName: k.Name, operation: "update", summary: summary,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// DeleteAccessKey implements castellan.AccessKeyService.
func (s *AccessKeyService) DeleteAccessKey(ctx context.Context, orgID, id string) (int64, error) {
	var rev int64
	err := s.db.update(ctx, func(tx *Tx) error {
		k, err := findAccessKeyIn(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM access_key_tokens WHERE key_id = ?`, id); err != nil {
			return fmt.Errorf("delete access key tokens: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM access_keys WHERE org_id = ? AND id = ?`, orgID, id); err != nil {
			return fmt.Errorf("delete access key: %w", err)
		}
		rev, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionDeleteAccessKey,
			entityType: "access_key", entityID: id, entityName: k.Name, operation: "delete",
			summary: map[string]any{"name": k.Name, "projectId": k.ProjectID, "ownerType": k.Owner.Type, "ownerId": k.Owner.ID},
		})
		return err
	})
	return rev, err
}

// deleteAccessKeysWhere deletes the access keys that match where (their
// tokens go with them, ON DELETE CASCADE), for the deletion of their
// owner or project: a key whose owner or project is gone must not stay
// listed as enabled. It returns the keys' IDs for the audit event and the
// change-log rows (accessKeyDeletions).
func deleteAccessKeysWhere(ctx context.Context, tx *Tx, where string, args ...any) ([]string, error) {
	rows, err := tx.query(ctx, `DELETE FROM access_keys WHERE `+where+` RETURNING id`, args...)
	if err != nil {
		return nil, fmt.Errorf("delete access keys: %w", err)
	}
	ids, err := collect(rows, scanString)
	if err != nil {
		return nil, fmt.Errorf("delete access keys: %w", err)
	}
	return ids, nil
}

// accessKeyDeletions are the change-log rows of deleted keys, by which
// every replica's token cache evicts their tokens.
func accessKeyDeletions(ids []string) []changedEntity {
	out := make([]changedEntity, len(ids))
	for i, id := range ids {
		out[i] = changedEntity{"access_key", id, "delete"}
	}
	return out
}

// keyHolderColumns and keyHolderFrom read an access key with what decides
// whether it may be used: its project, and its owner's status, API access
// and allow sources (a user) or presence (a service account of the key's
// project). A missing owner or project leaves NULLs.
const keyHolderColumns = `SELECT k.id, k.org_id, k.project_id, k.owner_type, k.owner_id, k.status, k.expires_at, k.secret_hash,
		` + tokenOwnerColumns + `, sa.id, n.id`

const keyHolderFrom = `
	FROM access_keys k
	LEFT JOIN users u ON k.owner_type = 'user' AND u.org_id = k.org_id AND u.id = k.owner_id
	LEFT JOIN service_accounts sa ON k.owner_type = 'serviceAccount' AND sa.org_id = k.org_id AND sa.id = k.owner_id AND sa.project_id = k.project_id
	LEFT JOIN nodes n ON n.org_id = k.org_id AND n.kind = 'project' AND n.id = k.project_id`

// keyHolder is a row of keyHolderColumns.
type keyHolder struct {
	id, orgID, projectID, ownerType, ownerID, status, secretHash string
	expiresAt                                                    sql.NullTime
	owner                                                        tokenOwner
	accountID, projectNode                                       sql.NullString
}

func (h *keyHolder) scan(row scanner, extra ...any) error {
	fields := append([]any{&h.id, &h.orgID, &h.projectID, &h.ownerType, &h.ownerID, &h.status, &h.expiresAt, &h.secretHash},
		h.owner.fields()...)
	return row.Scan(append(append(fields, &h.accountID, &h.projectNode), extra...)...)
}

// valid reports whether the key may authenticate at now: enabled,
// unexpired, in an existing project, and its owner active with API access
// (a user) or present (a service account).
func (h *keyHolder) valid(db *DB) bool {
	if h.status != castellan.AccessKeyEnabled || !h.projectNode.Valid {
		return false
	}
	if h.expiresAt.Valid && !db.now().Before(h.expiresAt.Time) {
		return false
	}
	switch castellan.SubjectType(h.ownerType) {
	case castellan.SubjectUser:
		return h.owner.usable()
	case castellan.SubjectServiceAccount:
		return h.accountID.Valid
	}
	return false
}

// principal is the caller a token of the key stands for: its owner,
// bound to the key's project.
func (h *keyHolder) principal() castellan.Principal {
	t := castellan.PrincipalUser
	if castellan.SubjectType(h.ownerType) == castellan.SubjectServiceAccount {
		t = castellan.PrincipalServiceAccount
	}
	return castellan.Principal{Type: t, ID: h.ownerID, OrganizationID: h.orgID, KeyID: h.id, ProjectID: h.projectID}
}

// checkSource refuses a request from outside the allow sources of the
// key's owner (a user that uses them; service accounts have none).
func (h *keyHolder) checkSource(ctx context.Context) error {
	sources, err := h.owner.allowSources()
	if err != nil {
		return err
	}
	if sources != nil && !castellan.SourceAllowed(sources, castellan.RequestInfoFrom(ctx)) {
		return castellan.SourceNotAllowed()
	}
	return nil
}

// dummySecretHash is compared against when the key ID is unknown, so that
// an unknown key costs what a known one does.
var dummySecretHash = HashToken("castellan-no-such-access-key")

// ExchangeAccessKey implements castellan.AccessKeyService.
func (s *AccessKeyService) ExchangeAccessKey(ctx context.Context, keyID, secret string) (*castellan.AccessToken, error) {
	if !castellan.ValidAccessKeyID(keyID) || !castellan.ValidAccessKeySecret(secret) {
		return nil, errUnauthenticated
	}
	// Checked first on a reader, so that refused attempts, which anyone
	// may make, never take the write lock; checked again in the write
	// transaction, where the key cannot change under it.
	check := func(row scanner) (*keyHolder, error) {
		var h keyHolder
		err := h.scan(row)
		found := err == nil
		if err != nil && !isNoRows(err) {
			return nil, err
		}
		stored := dummySecretHash
		if found {
			stored = h.secretHash
		}
		match := subtle.ConstantTimeCompare([]byte(HashToken(secret)), []byte(stored)) == 1
		if !found || !match || !h.valid(s.db) {
			return nil, errUnauthenticated
		}
		// Only a caller who knows the secret learns that the source is
		// the reason.
		if err := h.checkSource(ctx); err != nil {
			return nil, err
		}
		return &h, nil
	}
	const query = keyHolderColumns + keyHolderFrom + ` WHERE k.id = ?`
	if _, err := check(s.db.queryRow(ctx, query, keyID)); err != nil {
		return nil, err
	}
	var out *castellan.AccessToken
	err := s.db.update(ctx, func(tx *Tx) error {
		h, err := check(tx.queryRow(ctx, query, keyID))
		if err != nil {
			return err
		}
		token, hash := newToken()
		out = &castellan.AccessToken{Token: token, ExpiresAt: tx.now.Add(castellan.AccessTokenLifetime), TokenType: "Bearer"}
		if _, err := tx.exec(ctx, `INSERT INTO access_key_tokens (token_hash, key_id, issued_at, expires_at) VALUES (?, ?, ?, ?)`,
			hash, keyID, tx.now, out.ExpiresAt); err != nil {
			return fmt.Errorf("insert token: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE access_keys SET last_used_at = ? WHERE id = ?`, tx.now, keyID); err != nil {
			return fmt.Errorf("update access key: %w", err)
		}
		// Audited: who obtained a token with which key. The change-log row
		// names the key, whose state followers already track.
		_, err = tx.record(ctx, change{
			orgID: h.orgID, action: castellan.ActionExchangeAccessKey,
			entityType: "access_key", entityID: keyID, operation: "update",
			summary: map[string]any{"ownerType": h.ownerType, "ownerId": h.ownerID, "expiresAt": out.ExpiresAt},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// keyToken is a token issued for an access key, with its key.
type keyToken struct {
	keyHolder
	issuedAt, expiresAt sql.NullTime
}

// findKeyToken reads the token with the given hash and its key; ok is
// false when there is none or it may not be used.
func (s *AccessKeyService) findKeyToken(ctx context.Context, hash string) (*keyToken, bool, error) {
	var t keyToken
	err := t.scan(s.db.queryRow(ctx, keyHolderColumns+`, t.issued_at, t.expires_at`+keyHolderFrom+` JOIN access_key_tokens t ON t.key_id = k.id WHERE t.token_hash = ?`, hash),
		&t.issuedAt, &t.expiresAt)
	if isNoRows(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !s.db.now().Before(t.expiresAt.Time) || !t.valid(s.db) {
		return nil, false, nil
	}
	return &t, true, nil
}

// credential is what the token stands for; it expires with its key.
func (t *keyToken) credential() (*castellan.Credential, error) {
	c := &castellan.Credential{Principal: t.principal(), ExpiresAt: t.expiresAt.Time.UTC()}
	if t.keyHolder.expiresAt.Valid && t.keyHolder.expiresAt.Time.Before(c.ExpiresAt) {
		c.ExpiresAt = t.keyHolder.expiresAt.Time.UTC()
	}
	var err error
	c.AllowSources, err = t.owner.allowSources()
	return c, err
}

// NoteKeysUsed implements castellan.AccessKeyService.
func (s *AccessKeyService) NoteKeysUsed(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return s.db.bookkeeping(ctx, func(tx *Tx) error {
		for id, at := range used {
			at = at.UTC().Truncate(time.Microsecond)
			if _, err := tx.exec(ctx, `UPDATE access_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
				at, id, at); err != nil {
				return fmt.Errorf("note key use: %w", err)
			}
		}
		return nil
	})
}

// IntrospectToken implements castellan.AccessKeyService.
func (s *AccessKeyService) IntrospectToken(ctx context.Context, token string) (*castellan.TokenIntrospection, error) {
	if !castellan.ValidTokenSyntax(token) {
		return &castellan.TokenIntrospection{}, nil
	}
	t, ok, err := s.findKeyToken(ctx, HashToken(token))
	if err != nil || !ok {
		return &castellan.TokenIntrospection{}, err
	}
	// exp is when the token stops working: its own expiry or its key's,
	// whichever comes first, so that a service caching the answer until
	// then never outlives the key.
	c, err := t.credential()
	if err != nil {
		return nil, err
	}
	return &castellan.TokenIntrospection{
		Active: true, Subject: t.ownerID, Organization: t.orgID, PrincipalType: t.ownerType,
		KeyID: t.id, ProjectID: t.projectID, ExpiresAt: c.ExpiresAt.Unix(), IssuedAt: t.issuedAt.Time.Unix(),
	}, nil
}
