"""On PostgreSQL, the audit table refuses UPDATE and DELETE (a trigger); elsewhere a no-op.

TRUNCATE stays possible for the database owner (test databases are flushed with it).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION security_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'security_auditentry is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER security_auditentry_no_update_delete
    BEFORE UPDATE OR DELETE ON security_auditentry
    FOR EACH ROW EXECUTE FUNCTION security_auditentry_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS security_auditentry_no_update_delete ON security_auditentry;
DROP FUNCTION IF EXISTS security_auditentry_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("security", "0001_policies_events_audit")]

    operations = [migrations.RunPython(create, drop)]
