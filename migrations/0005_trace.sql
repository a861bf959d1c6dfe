-- The W3C traceparent of the request that created the order, carried to RabbitMQ and
-- the task so that one trace_id follows the order through every role's log.
ALTER TABLE outbox_events ADD COLUMN traceparent TEXT;
