-- Core production counts: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('production_counts', [
    ('client_id', 'varchar'),
    ('production_date', 'date'),
    ('shift', 'varchar'),
    ('machine_id', 'varchar'),
    ('product_id', 'varchar'),
    ('planned_time_s', 'double'),
    ('total_count', 'integer'),
    ('good_count', 'integer'),
    ('reject_count', 'integer'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
