-- The database's own ceiling for POST /orders/: the same order + outbox insert in one
-- statement (one implicit transaction), as the api runs it. Variable :uid from -D. bench/run
-- runs it with order_service.relay_wakeup=after_commit, as the api's sessions (no NOTIFY
-- inside the transaction: src/db/relay_wakeup.hpp).
WITH o AS (
  INSERT INTO orders (id, user_id, items, total_price)
  VALUES (gen_random_uuid(), :uid,
          '[{"product_id":1,"quantity":2,"price":10.0},{"product_id":2,"quantity":1,"price":0.1}]',
          20.10)
  RETURNING *
)
INSERT INTO outbox_events (id, event_type, aggregate_id, payload, created_at)
SELECT gen_random_uuid(), 'new_order', o.id,
       jsonb_build_object('order_id', o.id, 'user_id', o.user_id, 'total_price', o.total_price),
       o.created_at
FROM o;
