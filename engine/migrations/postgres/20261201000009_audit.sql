-- Every change, login and failed login: who, when, from where, what, and
-- whether it worked. Append-only: the triggers refuse updates and deletes.
CREATE TABLE audit_event (
    audit_id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT,
    address TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_by_time ON audit_event (at_ms, audit_id);
CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'audit_event is append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event
FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
