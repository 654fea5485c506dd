-- One database per service (no service reads another's tables); mash_identity is
-- POSTGRES_DB, made by the image itself. Runs once, on an empty data volume.
CREATE DATABASE mash_referral OWNER mash;
CREATE DATABASE mash_notify OWNER mash;
