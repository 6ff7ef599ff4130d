-- Airflow's metadata database lives in the same server as the das database (as with `das up`).
CREATE DATABASE airflow OWNER das;
