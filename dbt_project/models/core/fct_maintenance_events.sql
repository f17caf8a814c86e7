-- Core maintenance events: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('maintenance_events', [
    ('client_id', 'varchar'),
    ('work_order_id', 'varchar'),
    ('machine_id', 'varchar'),
    ('event_type', 'varchar'),
    ('failure_mode', 'varchar'),
    ('reported_at', 'timestamptz'),
    ('repair_started_at', 'timestamptz'),
    ('repair_ended_at', 'timestamptz'),
    ('repair_time_s', 'double'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
