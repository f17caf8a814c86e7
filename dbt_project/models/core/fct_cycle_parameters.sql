-- Core cycle parameters: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('cycle_parameters', [
    ('client_id', 'varchar'),
    ('cycle_id', 'varchar'),
    ('machine_id', 'varchar'),
    ('parameter_name', 'varchar'),
    ('parameter_value', 'double'),
    ('unit', 'varchar'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
