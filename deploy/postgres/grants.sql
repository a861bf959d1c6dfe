-- Least privilege for order-service on PostgreSQL (15+): two roles.
--
--   owner  runs `order-service migrate` only: owns the database, so it may create and
--          alter the schema's tables, indexes, functions and triggers.
--   app    runs every other role (api, relay, consumer, worker, reconcile, `all`, dlq):
--          SELECT/INSERT/UPDATE/DELETE on the tables, USAGE on their sequences (BIGSERIAL
--          ids), EXECUTE on the schema's functions. No CREATE, no DROP, no TRUNCATE, no
--          ownership. LISTEN/NOTIFY (relay wake-ups, user deletions) need no grant.
--
-- Run as a superuser, connected to the service's database (it must exist), before or
-- after the migrations (default privileges cover the tables `migrate` creates later):
--
--   psql -v ON_ERROR_STOP=1 -d orders -v db=orders -v owner=orders_owner -v app=orders_app \
--        -f deploy/postgres/grants.sql
--
-- Passwords are never in this file: set them from your secret store, e.g.
--   ALTER ROLE orders_app PASSWORD '...';   (the service reads POSTGRES_PASSWORD_FILE)
-- Require TLS for both roles in pg_hba.conf (hostssl; see README, "Security in production"):
--   hostssl orders orders_owner,orders_app 0.0.0.0/0 scram-sha-256
--   host    all    all                     0.0.0.0/0 reject
-- Tables that an earlier deployment's role created stay that role's:
--   REASSIGN OWNED BY old_role TO orders_owner;  (then run this file again)

SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'app')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'app') \gexec

ALTER DATABASE :"db" OWNER TO :"owner";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"owner", :"app";

-- PostgreSQL 15's public schema belongs to the database owner; nobody else creates in it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";

-- What exists already (the migrations ran before) ...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO :"app";
-- ... and what `migrate` (as the owner) creates from now on.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
  GRANT EXECUTE ON FUNCTIONS TO :"app";
