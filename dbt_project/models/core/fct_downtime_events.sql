-- Core downtime events: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('downtime_events', [
    ('client_id', 'varchar'),
    ('downtime_id', 'varchar'),
    ('machine_id', 'varchar'),
    ('production_date', 'date'),
    ('shift', 'varchar'),
    ('started_at', 'timestamptz'),
    ('duration_s', 'double'),
    ('reason_code', 'varchar'),
    ('reason_name', 'varchar'),
    ('is_planned', 'boolean'),
    ('loss_category', 'varchar'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
