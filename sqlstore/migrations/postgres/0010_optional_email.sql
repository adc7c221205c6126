-- Seed 004 makes the ID email optional for a user registered with a
-- password: such users have the empty string, and any number of them may
-- coexist, so the empty email takes no place among the organization's
-- unique emails. Queries that look users up by email repeat the
-- condition, so that the index serves them.
DROP INDEX users_org_email;
CREATE UNIQUE INDEX users_org_email ON users (org_id, email_lower) WHERE status <> 'deleted' AND email_lower <> '';
