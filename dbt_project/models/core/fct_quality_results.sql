-- Core quality results: what the client's adapter provides, typed; empty if it provides none.
{{ union_adapters('quality_results', [
    ('client_id', 'varchar'),
    ('inspection_id', 'varchar'),
    ('cycle_id', 'varchar'),
    ('lot_id', 'varchar'),
    ('machine_id', 'varchar'),
    ('product_id', 'varchar'),
    ('inspected_at', 'timestamptz'),
    ('production_date', 'date'),
    ('inspected_count', 'integer'),
    ('defect_count', 'integer'),
    ('is_pass', 'boolean'),
    ('defect_code', 'varchar'),
    ('defect_name', 'varchar'),
    ('source_file', 'varchar'),
    ('load_batch_id', 'varchar')
]) }}
