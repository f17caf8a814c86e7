-- Core sensor readings: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('sensor_readings', [
    ('client_id', 'varchar'),
    ('machine_id', 'varchar'),
    ('tag', 'varchar'),
    ('read_at', 'timestamptz'),
    ('value', 'double'),
    ('unit', 'varchar'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
