#!/usr/bin/env bash
# First start of the PostGIS container: the das database (PostGIS enabled, owned by the pipeline role das) and
# Airflow's metadata database. Passwords come from the container's environment, never from this file.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username postgres \
  -v das_pw="$DAS_PG_PASSWORD" -v airflow_pw="$AIRFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE das LOGIN CREATEROLE NOSUPERUSER PASSWORD :'das_pw';  -- CREATEROLE: das users add, group roles
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE das OWNER das;
CREATE DATABASE airflow OWNER airflow;
\connect das
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
