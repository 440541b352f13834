"""assessment: foreign keys whose rows share a few parents are checked once per statement, not per row

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:00:00.000000

teachers -> municipalities / organisations and results -> campaigns / frameworks: an intake batch
of 80,000 rows refers to one campaign, one framework and a few thousand schools, yet a declared
foreign key runs one lookup per row (about a sixth of registering teachers and storing their
results). The same rule is kept as triggers that work per statement:

- child, INSERT (statement level, over the inserted rows): every distinct key must name a parent
  row, which is locked FOR KEY SHARE as the declared key's check locks it;
- child, UPDATE (row level, only when a key changes): the same check for that row;
- parent, DELETE or UPDATE of the key (row level): refused while a child row refers to it;
- parent, TRUNCATE: refused while the child table still has rows (unless truncated with it).

The parent row is locked before the child's statement ends, so a concurrent DELETE of the parent
either waits and then sees the children, or commits first and the child's check finds no parent;
an orphan cannot be committed, as with a declared key. Keys whose rows each name a different
parent (results.teacher_id, result_changes.result_id) stay declared: checked per statement they
cost as much.
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# (child table, declared constraint it replaces, child column, parent table, parent column)
BATCHED = (
    ('teachers', 'fk_teachers_municipality_code_municipalities', 'municipality_code', 'municipalities', 'code'),
    ('teachers', 'fk_teachers_organisation_code_organisations', 'organisation_code', 'organisations', 'code'),
    ('results', 'fk_results_campaign_id_campaigns', 'campaign_id', 'campaigns', 'id'),
    ('results', 'fk_results_framework_id_frameworks', 'framework_id', 'frameworks', 'id'),
)

FUNCTIONS = (
    # Arguments: (child column, schema-qualified parent table, parent column) triples, so a table of the same
    # shape elsewhere can use them too; the statement's rows are `new_rows`.
    r"""
    CREATE FUNCTION assessment.fk_check_batch() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      i integer;
      wanted bigint;
      locked bigint;
    BEGIN
      FOR i IN 0 .. TG_NARGS - 1 BY 3 LOOP
        EXECUTE format(
          'WITH k AS (SELECT DISTINCT %1$I AS key FROM new_rows WHERE %1$I IS NOT NULL), '
          'p AS (SELECT FROM %2$s p WHERE p.%3$I IN (SELECT key FROM k) FOR KEY SHARE OF p) '
          'SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM p)',
          TG_ARGV[i], TG_ARGV[i + 1]::regclass, TG_ARGV[i + 2])
        INTO wanted, locked;
        IF locked < wanted THEN
          RAISE EXCEPTION 'insert on table "%" violates foreign key (%) -> %(%)',
            TG_TABLE_NAME, TG_ARGV[i], TG_ARGV[i + 1], TG_ARGV[i + 2]
            USING ERRCODE = 'foreign_key_violation';
        END IF;
      END LOOP;
      RETURN NULL;
    END $$
    """,
    # Arguments: (schema-qualified child table, child column, parent column) triples. Row level for DELETE
    # and UPDATE of the key; statement level for TRUNCATE (the AFTER trigger runs once every table of the
    # statement is empty, so truncating parent and child together passes).
    r"""
    CREATE FUNCTION assessment.fk_guard_parent() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      i integer;
      unchanged boolean;
      referenced boolean;
    BEGIN
      FOR i IN 0 .. TG_NARGS - 1 BY 3 LOOP
        IF TG_OP = 'TRUNCATE' THEN
          EXECUTE format('SELECT EXISTS (SELECT FROM %s)', TG_ARGV[i]::regclass) INTO referenced;
        ELSE
          IF TG_OP = 'UPDATE' THEN
            EXECUTE format('SELECT ($1).%1$I IS NOT DISTINCT FROM ($2).%1$I', TG_ARGV[i + 2])
              USING NEW, OLD INTO unchanged;
            CONTINUE WHEN unchanged;
          END IF;
          EXECUTE format('SELECT EXISTS (SELECT FROM %s c WHERE c.%I = ($1).%I)',
                         TG_ARGV[i]::regclass, TG_ARGV[i + 1], TG_ARGV[i + 2])
            USING OLD INTO referenced;
        END IF;
        IF referenced THEN
          RAISE EXCEPTION '% on table "%" violates foreign key (%) of table "%"',
            lower(TG_OP), TG_TABLE_NAME, TG_ARGV[i + 1], TG_ARGV[i]
            USING ERRCODE = 'foreign_key_violation';
        END IF;
      END LOOP;
      RETURN NULL;
    END $$
    """,
)


def _args(*values: str) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _keys(child: str) -> list[tuple[str, str, str]]:
    return [(col, parent, pcol) for c, _, col, parent, pcol in BATCHED if c == child]


def _row_check(child: str) -> str:
    """An updated row whose key changed: plain SQL per table (the statement-level check's dynamic SQL is
    planned on every call, which per row made rescoring a campaign ~60% slower than a declared key)."""
    checks = "".join(f"""
      IF NEW.{col} IS NOT NULL AND NEW.{col} IS DISTINCT FROM OLD.{col} THEN
        PERFORM FROM assessment.{parent} p WHERE p.{pcol} = NEW.{col} FOR KEY SHARE OF p;
        IF NOT FOUND THEN
          RAISE EXCEPTION 'update on table "{child}" violates foreign key ({col}) -> assessment.{parent}({pcol})'
            USING ERRCODE = 'foreign_key_violation';
        END IF;
      END IF;""" for col, parent, pcol in _keys(child))
    return f"""
    CREATE FUNCTION assessment.{child}_keys_exist() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN{checks}
      RETURN NULL;
    END $$
    """


def _children() -> list[str]:
    return list(dict.fromkeys(c for c, *_ in BATCHED))


def _triggers() -> list[str]:
    out: list[str] = []
    for child in _children():
        keys = _keys(child)
        args = _args(*(v for col, parent, pcol in keys for v in (col, f"assessment.{parent}", pcol)))
        changed = " OR ".join(f"OLD.{col} IS DISTINCT FROM NEW.{col}" for col, _, _ in keys)
        out += [
            f"CREATE TRIGGER {child}_fk_insert AFTER INSERT ON assessment.{child} "
            f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION assessment.fk_check_batch({args})",
            _row_check(child),
            f"CREATE TRIGGER {child}_fk_update AFTER UPDATE ON assessment.{child} FOR EACH ROW WHEN ({changed}) "
            f"EXECUTE FUNCTION assessment.{child}_keys_exist()",
        ]
    for child, _, col, parent, pcol in BATCHED:
        args = _args(f"assessment.{child}", col, pcol)
        out += [
            f"CREATE TRIGGER {parent}_{child}_fk AFTER DELETE OR UPDATE OF {pcol} ON assessment.{parent} "
            f"FOR EACH ROW EXECUTE FUNCTION assessment.fk_guard_parent({args})",
            f"CREATE TRIGGER {parent}_{child}_fk_truncate AFTER TRUNCATE ON assessment.{parent} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION assessment.fk_guard_parent({args})",
        ]
    return out


def upgrade() -> None:
    for child, name, *_ in BATCHED:
        op.drop_constraint(name, child, schema='assessment', type_='foreignkey')
    for sql in FUNCTIONS:
        op.execute(sql)
    for sql in _triggers():
        op.execute(sql)


def downgrade() -> None:
    for child in _children():
        op.execute(f"DROP TRIGGER {child}_fk_insert ON assessment.{child}")
        op.execute(f"DROP TRIGGER {child}_fk_update ON assessment.{child}")
        op.execute(f"DROP FUNCTION assessment.{child}_keys_exist()")
    for child, _, _, parent, _ in BATCHED:
        op.execute(f"DROP TRIGGER {parent}_{child}_fk ON assessment.{parent}")
        op.execute(f"DROP TRIGGER {parent}_{child}_fk_truncate ON assessment.{parent}")
    for fn in ("fk_check_batch", "fk_guard_parent"):
        op.execute(f"DROP FUNCTION assessment.{fn}()")
    for child, name, col, parent, pcol in BATCHED:
        op.create_foreign_key(name, child, parent, [col], [pcol], source_schema='assessment',
                              referent_schema='assessment')
