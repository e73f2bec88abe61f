-- 008: idempotency replies found by the submission they hold.
--
-- Erasing a customer (DELETE /v1/customers/{customer_id}) must also delete
-- the stored replies of keyed single submissions, which hold a copy of the
-- submission for 24 hours (migration 004). Their Location names it
-- (/v1/responses/<id>); batch replies have no Location and hold only ids and
-- statuses. Partial, so batch replies cost the index nothing; a lookup by
-- `location = ?` implies `location IS NOT NULL` and uses it.
CREATE INDEX idempotency_keys_by_location ON idempotency_keys (location)
    WHERE location IS NOT NULL;
