-- Schemas and roles of the `iom` database, for DBAs who prefer SQL.
--
-- `python -m deploy.stack migrate` (DATABASE_URL = a superuser URL) does the same idempotently,
-- with the passwords from <NAME>_DB_PASSWORD, and then runs every service's migrations; this file
-- is not needed when that command runs. Run it as a superuser connected to the `iom` database
-- (e.g. from /docker-entrypoint-initdb.d/ of the postgres image, where POSTGRES_DB=iom).
--
-- The roles are made without a password (no one can log in as them yet): give each its own with
-- ALTER ROLE iom_<name> PASSWORD '...' and the same value to the service as <NAME>_DB_PASSWORD
-- (outside development the services refuse a placeholder, short or `_dev` password).

-- Nobody creates objects in `public`; every service owns exactly one schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Extensions live in a shared schema every role can use but none owns.
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA extensions;

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iom_assessment') THEN
    CREATE ROLE iom_assessment LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iom_resources') THEN
    CREATE ROLE iom_resources LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iom_routes') THEN
    CREATE ROLE iom_routes LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iom_audit') THEN
    CREATE ROLE iom_audit LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'iom_gateway') THEN
    CREATE ROLE iom_gateway LOGIN;
  END IF;
END $$;

CREATE SCHEMA IF NOT EXISTS assessment AUTHORIZATION iom_assessment;
REVOKE ALL ON SCHEMA assessment FROM PUBLIC;
GRANT USAGE ON SCHEMA extensions TO iom_assessment;
ALTER ROLE iom_assessment SET search_path = assessment, extensions;

CREATE SCHEMA IF NOT EXISTS resources AUTHORIZATION iom_resources;
REVOKE ALL ON SCHEMA resources FROM PUBLIC;
GRANT USAGE ON SCHEMA extensions TO iom_resources;
ALTER ROLE iom_resources SET search_path = resources, extensions;

CREATE SCHEMA IF NOT EXISTS routes AUTHORIZATION iom_routes;
REVOKE ALL ON SCHEMA routes FROM PUBLIC;
GRANT USAGE ON SCHEMA extensions TO iom_routes;
ALTER ROLE iom_routes SET search_path = routes, extensions;

CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION iom_audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA extensions TO iom_audit;
ALTER ROLE iom_audit SET search_path = audit, extensions;

CREATE SCHEMA IF NOT EXISTS gateway AUTHORIZATION iom_gateway;
REVOKE ALL ON SCHEMA gateway FROM PUBLIC;
GRANT USAGE ON SCHEMA extensions TO iom_gateway;
ALTER ROLE iom_gateway SET search_path = gateway, extensions;

-- Whatever the database is called, the five roles may connect to it.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['iom_assessment', 'iom_resources', 'iom_routes', 'iom_audit', 'iom_gateway'] LOOP
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r);
  END LOOP;
END $$;
