-- Core energy readings: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('energy_readings', [
    ('client_id', 'varchar'),
    ('meter_id', 'varchar'),
    ('site_id', 'varchar'),
    ('interval_start', 'timestamptz'),
    ('interval_end', 'timestamptz'),
    ('energy_kwh', 'double'),
    ('reactive_kvarh', 'double'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
