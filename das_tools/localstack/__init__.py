"""The one-machine stack: a project-local PostgreSQL/PostGIS cluster and the Airflow environment pointing at it."""
