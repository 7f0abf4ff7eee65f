-- The two database roles, created once by a superuser (idempotent):
--   psql -v owner=advisor_owner -v owner_password=... -v app=advisor_app -v app_password=... \
--        -v database=advisor -f create_roles.sql
-- advisor_owner owns the database and its tables: `manage.py migrate` connects as it.
-- advisor_app is what web, worker and beat connect as: it owns nothing, is no superuser, and
-- after each migrate it is granted read/write on the tables and SELECT, INSERT on the audit trail.
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE', :'owner', :'owner_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT', :'app', :'app_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'database', :'owner') \gexec
\connect :database
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner') \gexec
SELECT format('REVOKE CREATE ON SCHEMA public FROM PUBLIC') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'database', :'app') \gexec
