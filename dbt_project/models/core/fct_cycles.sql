-- Core cycles: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('cycles', [
    ('client_id', 'varchar'),
    ('cycle_id', 'varchar'),
    ('machine_id', 'varchar'),
    ('product_id', 'varchar'),
    ('started_at', 'timestamptz'),
    ('production_date', 'date'),
    ('cycle_time_s', 'double'),
    ('part_count', 'integer'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
