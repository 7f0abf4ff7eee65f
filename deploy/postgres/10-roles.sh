#!/bin/sh
# PostgreSQL's first start (docker-entrypoint-initdb.d): the owner role that migrations run as
# and the runtime role web, worker and beat connect as (it owns nothing). The superuser
# (POSTGRES_USER) is used by nobody else afterwards.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner="${ADVISOR_DB_OWNER:-advisor_owner}" -v owner_password="$ADVISOR_DB_OWNER_PASSWORD" \
  -v app="${ADVISOR_DB_APP_ROLE:-advisor_app}" -v app_password="$ADVISOR_DB_APP_PASSWORD" \
  -v database="${ADVISOR_DB_NAME:-advisor}" \
  -f /advisor-sql/create_roles.sql
