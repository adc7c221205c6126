package sqlstore

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Schema is what a migrated store's catalogue says of its tables, reduced
// to what both dialects can express alike, so that the SQLite and the
// PostgreSQL migrations can be compared (SchemaDifferences).
type Schema map[string]*SchemaTable

// SchemaTable is one table of a Schema.
type SchemaTable struct {
	Columns map[string]SchemaColumn
	// PrimaryKey lists the primary key's columns in key order.
	PrimaryKey []string
	// Indexes are by name, except those made for UNIQUE constraints,
	// whose names each dialect invents: they are named unique(col,…).
	// Primary-key indexes are left out (PrimaryKey says it).
	Indexes map[string]SchemaIndex
}

// SchemaColumn is one column of a SchemaTable.
type SchemaColumn struct {
	// Family is text, integer, bool or timestamp (typeFamily), or
	// "other:<type>" for a type with no counterpart in the other dialect.
	Family  string
	NotNull bool
	// Default is the normalized default expression (normalizeExpr),
	// "autoincrement" for a column the database numbers itself, or "".
	Default string
}

// SchemaIndex is one index of a SchemaTable.
type SchemaIndex struct {
	// Columns are the key columns in order, "name" or "name DESC";
	// "<expression>" stands for an expression.
	Columns []string
	Unique  bool
	// Where is the normalized predicate of a partial index, or "".
	Where string
}

// SchemaDifference is one way two schemas differ.
type SchemaDifference struct {
	Table string
	// Item is the column, index or "primary key" that differs; empty when
	// the table itself is missing on one side.
	Item string
	// What says how, with both sides' values.
	What string
}

func (d SchemaDifference) String() string {
	if d.Item == "" {
		return d.Table + ": " + d.What
	}
	return d.Table + "." + d.Item + ": " + d.What
}

// Schema reads the schema of the store's tables from its catalogue:
// pragma table_info, index_list and index_xinfo on SQLite;
// information_schema and pg_catalog in the current schema on PostgreSQL.
func (db *DB) Schema(ctx context.Context) (Schema, error) {
	if db.dialect.name == "postgres" {
		return db.postgresSchema(ctx)
	}
	return db.sqliteSchema(ctx)
}

// typeFamily maps a column's type, as its dialect reports it, to a family
// both dialects share. SQLite keeps times as text in the driver's
// "sqlite" format and gives them back as time.Time for columns declared
// DATETIME or TIMESTAMP; PostgreSQL keeps them as TIMESTAMPTZ. A
// timestamp without time zone has no family: it would drop the zone that
// SQLite's text keeps. SQLite has no JSON type, so PostgreSQL's JSONB
// columns are TEXT there, read through dialect.jsonText.
func typeFamily(dialectName, typ string) string {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	families := map[string]string{
		"text": "text", "varchar": "text", "character varying": "text", "char": "text", "character": "text",
		"integer": "integer", "int": "integer", "bigint": "integer", "smallint": "integer",
		"boolean": "bool", "bool": "bool",
		"blob": "bytes", "bytea": "bytes",
	}
	if dialectName == "sqlite" {
		families["datetime"], families["timestamp"] = "timestamp", "timestamp"
	} else {
		families["timestamp with time zone"] = "timestamp"
		families["jsonb"], families["json"] = "text", "text"
	}
	if f, ok := families[t]; ok {
		return f
	}
	return "other:" + t
}

var (
	// typeCast is a PostgreSQL cast such as ::text, ::character varying
	// or ::timestamp with time zone.
	typeCast = regexp.MustCompile(`::[a-z_][a-z0-9_]*( varying| with time zone| without time zone)?(\[\])?`)
	spaces   = regexp.MustCompile(`\s+`)
	// indexPredicate finds the WHERE of a CREATE INDEX after its column list.
	indexPredicate = regexp.MustCompile(`(?is)\bON\b.*?\)\s*WHERE\s+(.*)$`)
)

// normalizeExpr rewrites a default or an index predicate so that the
// same expression reads the same in both dialects: outside string
// literals, PostgreSQL's casts and every parenthesis are dropped (the
// predicates in use are conjunctions, whose grouping does not matter),
// keywords are lower-cased and spaces collapsed; literals are kept as
// they are.
func normalizeExpr(expr string) string {
	var b strings.Builder
	inQuote := false
	var outside strings.Builder
	flush := func() {
		s := strings.ToLower(outside.String())
		s = typeCast.ReplaceAllString(s, "")
		s = strings.NewReplacer("(", " ", ")", " ").Replace(s)
		b.WriteString(s)
		outside.Reset()
	}
	for _, r := range expr {
		switch {
		case r == '\'' && !inQuote:
			flush()
			inQuote = true
			b.WriteRune(r)
		case r == '\'' && inQuote:
			inQuote = false
			b.WriteRune(r)
		case inQuote:
			b.WriteRune(r)
		default:
			outside.WriteRune(r)
		}
	}
	flush()
	return strings.TrimSpace(spaces.ReplaceAllString(b.String(), " "))
}

func (db *DB) sqliteSchema(ctx context.Context) (Schema, error) {
	rows, err := db.query(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return nil, err
	}
	type table struct{ name, sql string }
	tables, err := collect(rows, func(row scanner) (table, error) {
		var t table
		return t, row.Scan(&t.name, &t.sql)
	})
	if err != nil {
		return nil, err
	}
	schema := Schema{}
	for _, t := range tables {
		st := &SchemaTable{Columns: map[string]SchemaColumn{}, Indexes: map[string]SchemaIndex{}}
		if err := db.sqliteColumns(ctx, t.name, strings.Contains(strings.ToUpper(t.sql), "AUTOINCREMENT"), st); err != nil {
			return nil, err
		}
		if err := db.sqliteIndexes(ctx, t.name, st); err != nil {
			return nil, err
		}
		schema[t.name] = st
	}
	return schema, nil
}

func (db *DB) sqliteColumns(ctx context.Context, table string, autoincrement bool, st *SchemaTable) error {
	rows, err := db.query(ctx, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY pk, cid`, table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		var notNull bool
		var dflt *string
		var pk int
		if err := rows.Scan(&name, &typ, &notNull, &dflt, &pk); err != nil {
			return err
		}
		c := SchemaColumn{Family: typeFamily("sqlite", typ), NotNull: notNull}
		if dflt != nil {
			c.Default = normalizeExpr(*dflt)
		}
		if pk > 0 {
			// SQLite lets a primary key other than INTEGER be NULL, an old
			// quirk it keeps; the store never writes one, and PostgreSQL
			// forbids it.
			c.NotNull = true
			st.PrimaryKey = append(st.PrimaryKey, name)
			// AUTOINCREMENT is allowed only on an INTEGER PRIMARY KEY.
			if autoincrement {
				c.Default = "autoincrement"
			}
		}
		st.Columns[name] = c
	}
	return rows.Err()
}

func (db *DB) sqliteIndexes(ctx context.Context, table string, st *SchemaTable) error {
	rows, err := db.query(ctx, `SELECT l.name, l."unique", l.origin, COALESCE(m.sql, '')
		FROM pragma_index_list(?) AS l LEFT JOIN sqlite_master AS m ON m.type = 'index' AND m.name = l.name`, table)
	if err != nil {
		return err
	}
	type index struct {
		name, origin, sql string
		unique            bool
	}
	indexes, err := collect(rows, func(row scanner) (index, error) {
		var i index
		return i, row.Scan(&i.name, &i.unique, &i.origin, &i.sql)
	})
	if err != nil {
		return err
	}
	for _, i := range indexes {
		if i.origin == "pk" {
			continue
		}
		rows, err := db.query(ctx, `SELECT COALESCE(name, ''), "desc" FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno`, i.name)
		if err != nil {
			return err
		}
		cols, err := collect(rows, func(row scanner) (string, error) {
			var name string
			var desc bool
			if err := row.Scan(&name, &desc); err != nil {
				return "", err
			}
			return indexColumn(name, name == "", desc), nil
		})
		if err != nil {
			return err
		}
		si := SchemaIndex{Columns: cols, Unique: i.unique}
		if m := indexPredicate.FindStringSubmatch(i.sql); m != nil {
			si.Where = normalizeExpr(m[1])
		}
		name := i.name
		if i.origin == "u" {
			name = uniqueConstraintName(cols)
		}
		st.Indexes[name] = si
	}
	return nil
}

func indexColumn(name string, expression, desc bool) string {
	if expression {
		name = "<expression>"
	}
	if desc {
		name += " DESC"
	}
	return name
}

func uniqueConstraintName(cols []string) string {
	return "unique(" + strings.Join(cols, ",") + ")"
}

func (db *DB) postgresSchema(ctx context.Context) (Schema, error) {
	rows, err := db.query(ctx, `SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO', COALESCE(c.column_default, '')
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, err
	}
	schema := Schema{}
	defer rows.Close()
	for rows.Next() {
		var table, name, typ, dflt string
		var notNull bool
		if err := rows.Scan(&table, &name, &typ, &notNull, &dflt); err != nil {
			return nil, err
		}
		st := schema[table]
		if st == nil {
			st = &SchemaTable{Columns: map[string]SchemaColumn{}, Indexes: map[string]SchemaIndex{}}
			schema[table] = st
		}
		c := SchemaColumn{Family: typeFamily("postgres", typ), NotNull: notNull, Default: normalizeExpr(dflt)}
		if strings.HasPrefix(dflt, "nextval(") { // serial and bigserial
			c.Default = "autoincrement"
		}
		st.Columns[name] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return schema, db.postgresIndexes(ctx, schema)
}

func (db *DB) postgresIndexes(ctx context.Context, schema Schema) error {
	rows, err := db.query(ctx, `SELECT t.relname, x.relname, i.indisunique, i.indisprimary,
			EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype = 'u'),
			COALESCE(pg_get_expr(i.indpred, i.indrelid), ''),
			pg_get_indexdef(i.indexrelid, k.n, true), i.indkey[k.n - 1] = 0, (i.indoption[k.n - 1] & 1) = 1
		FROM pg_index i
		JOIN pg_class x ON x.oid = i.indexrelid
		JOIN pg_class t ON t.oid = i.indrelid
		JOIN pg_namespace ns ON ns.oid = t.relnamespace
		CROSS JOIN LATERAL generate_series(1, i.indnkeyatts) AS k(n)
		WHERE ns.nspname = current_schema()
		ORDER BY t.relname, x.relname, k.n`)
	if err != nil {
		return err
	}
	defer rows.Close()
	type key struct{ table, index string }
	indexes := map[key]*SchemaIndex{}
	constraint := map[key]bool{}
	var order []key
	for rows.Next() {
		var k key
		var unique, primary, isConstraint, expression, desc bool
		var where, column string
		if err := rows.Scan(&k.table, &k.index, &unique, &primary, &isConstraint, &where, &column, &expression, &desc); err != nil {
			return err
		}
		st := schema[k.table]
		if st == nil {
			continue // an index of something other than a table
		}
		if primary {
			st.PrimaryKey = append(st.PrimaryKey, column)
			continue
		}
		si := indexes[k]
		if si == nil {
			si = &SchemaIndex{Unique: unique}
			if where != "" {
				si.Where = normalizeExpr(where)
			}
			indexes[k], constraint[k] = si, isConstraint
			order = append(order, k)
		}
		si.Columns = append(si.Columns, indexColumn(column, expression, desc))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range order {
		name := k.index
		if constraint[k] {
			name = uniqueConstraintName(indexes[k].Columns)
		}
		schema[k.table].Indexes[name] = *indexes[k]
	}
	return nil
}

// SchemaDifferences compares the SQLite schema with the PostgreSQL one
// and returns every difference, sorted; none when the migrations agree.
func SchemaDifferences(sqlite, postgres Schema) []SchemaDifference {
	var diffs []SchemaDifference
	add := func(table, item, format string, args ...any) {
		diffs = append(diffs, SchemaDifference{Table: table, Item: item, What: fmt.Sprintf(format, args...)})
	}
	for _, table := range unionKeys(sqlite, postgres) {
		s, p := sqlite[table], postgres[table]
		switch {
		case p == nil:
			add(table, "", "table only in sqlite")
			continue
		case s == nil:
			add(table, "", "table only in postgres")
			continue
		}
		if !slices.Equal(s.PrimaryKey, p.PrimaryKey) {
			add(table, "primary key", "sqlite %v, postgres %v", s.PrimaryKey, p.PrimaryKey)
		}
		for _, name := range unionKeys(s.Columns, p.Columns) {
			sc, inS := s.Columns[name]
			pc, inP := p.Columns[name]
			switch {
			case !inP:
				add(table, name, "column only in sqlite")
			case !inS:
				add(table, name, "column only in postgres")
			case sc != pc:
				add(table, name, "column: sqlite %+v, postgres %+v", sc, pc)
			}
		}
		for _, name := range unionKeys(s.Indexes, p.Indexes) {
			si, inS := s.Indexes[name]
			pi, inP := p.Indexes[name]
			switch {
			case !inP:
				add(table, name, "index only in sqlite")
			case !inS:
				add(table, name, "index only in postgres")
			case !slices.Equal(si.Columns, pi.Columns) || si.Unique != pi.Unique || si.Where != pi.Where:
				add(table, name, "index: sqlite %+v, postgres %+v", si, pi)
			}
		}
	}
	return diffs
}

// unionKeys returns the keys of both maps, sorted, each once.
func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
